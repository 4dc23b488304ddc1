print("dlc")
