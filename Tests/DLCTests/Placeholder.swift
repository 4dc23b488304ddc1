import XCTest
// End-to-end and front-end tests live beside this file.
