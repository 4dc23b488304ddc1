import XCTest
// Tests of the Interpreter stage live beside this file.
