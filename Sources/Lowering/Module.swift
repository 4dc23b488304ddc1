// Lowering stage.
