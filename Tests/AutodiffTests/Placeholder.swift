import XCTest
// Tests of the Autodiff stage live beside this file.
