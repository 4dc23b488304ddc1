// Interpreter stage; see the files beside this one.
