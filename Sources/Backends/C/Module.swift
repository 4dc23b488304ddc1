// C backend.
