/// What `dlc --version` prints.
let dlcVersion = "dlc 0.1.0"
