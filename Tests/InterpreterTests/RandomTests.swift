import XCTest
import DLCIR
@testable import DLCInterpreter

/// The numbers pinned here were printed by a C program compiled with clang against
/// codegen/dlc_rng.h, so the Swift generator matches the C runtime bit for bit.
final class RandomTests: XCTestCase {
    func testSplitMix64MatchesC() {
        var r = SplitMix64(seed: 0, stream: .initialization)
        XCTAssertEqual(r.state, 15_485_907_386_658_061_715)  // 0xD6E8FEB86659FD93
        XCTAssertEqual(r.next(), 0xA7B7_7319_D39F_7883)
        XCTAssertEqual(r.next(), 0xED71_FD2D_7CCA_751A)
        XCTAssertEqual(r.next(), 0x499F_BFBC_1E7E_F79B)

        var s = SplitMix64(seed: 42, stream: .shuffle)
        XCTAssertEqual(s.next(), 0xEE84_B2BC_DAB9_4AE5)
        XCTAssertEqual(s.next(), 0x2156_285D_6C21_2CB5)
        XCTAssertEqual(s.next(), 0xC7BC_078C_EA85_FDFB)
    }

    func testDraws() {
        var r = SplitMix64(seed: 0, stream: .initialization)
        XCTAssertEqual(r.uniform01(), 0.65514296894582269)
        XCTAssertEqual(r.uniform01(), 0.92752058373006618)
        XCTAssertEqual(r.uniform01(), 0.28759382574798642)

        var b = SplitMix64(seed: 0, stream: .initialization)
        XCTAssertEqual((0..<5).map { _ in b.below(10) }, [1, 2, 9, 4, 2])

        var d = SplitMix64(seed: 0, stream: .dropout)
        XCTAssertEqual(d.uniform01(), 0.86476999379547237)
        XCTAssertEqual(d.uniform01(), 0.40729743056633694)
    }

    func testFisherYatesMatchesC() {
        var r = SplitMix64(seed: 7, stream: .split)
        XCTAssertEqual(r.permutation(10), [9, 4, 0, 8, 6, 5, 1, 2, 7, 3])
        var one = SplitMix64(seed: 7, stream: .split)
        XCTAssertEqual(one.permutation(1), [0])
        XCTAssertEqual(one, SplitMix64(seed: 7, stream: .split), "no draws for one element")
    }

    func testValidationSplit() {
        // Seed 0, stream 2: the permutation of 0..<5 is [4, 3, 1, 2, 0]; of 0..<10, [2, 9, 1, 8, 3, 7, 0, 4, 6, 5].
        XCTAssertEqual(DataSplit(rows: 5, validationFraction: 0.4, seed: 0),
                       DataSplit(training: [0, 1, 2], validation: [3, 4]))
        XCTAssertEqual(DataSplit(rows: 10, validationFraction: 0.3, seed: 0),
                       DataSplit(training: [0, 3, 4, 5, 6, 7, 8], validation: [1, 2, 9]))
        XCTAssertEqual(DataSplit(rows: 4, validationFraction: 0, seed: 0),
                       DataSplit(training: [0, 1, 2, 3], validation: []))
    }

    func testEpochShuffleContinuesTheStream() {
        var s = EpochShuffler(seed: 0)
        XCTAssertEqual(s.nextOrder(count: 5), [2, 1, 0, 3, 4])
        XCTAssertEqual(s.nextOrder(count: 5), [0, 2, 3, 1, 4])
    }

    func testFans() {
        XCTAssertTrue(ParamInitializer.fans([]) == (1, 1))
        XCTAssertTrue(ParamInitializer.fans([5]) == (1, 5))
        XCTAssertTrue(ParamInitializer.fans([512, 784]) == (784, 512))
        XCTAssertTrue(ParamInitializer.fans([8, 3, 5, 5]) == (75, 200))
    }

    func testInitialValuesMatchC() {
        let params = [
            ParamDecl(name: "w", type: f32(d(3), d(2)), initializer: .kaimingUniform),
            ParamDecl(name: "b", type: f32(d(3)), initializer: .normal(mean: 0, std: 1)),
            ParamDecl(name: "z", type: f32(d(2)), initializer: .zeros),
            ParamDecl(name: "c", type: f32(d(2), d(2)), initializer: .xavierUniform),
            ParamDecl(name: "one", type: f32(), initializer: .ones),
            ParamDecl(name: "k", type: f32(d(2)), initializer: .constant(0.1)),
            ParamDecl(name: "u", type: f32(d(2)), initializer: .uniform(low: -1, high: 3)),
        ]
        let v = ParamInitializer.initialValues(params, seed: 0)
        func pinned(_ name: String, _ shape: [Int], _ expected: [Float], file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertEqual(v[name]?.shape, shape, file: file, line: line)
            XCTAssertEqual(v[name]?.scalars.map { Float($0) }, expected, file: file, line: line)
            // Rounded once to f32, and kept so.
            XCTAssertEqual(v[name]?.scalars, expected.map { Double($0) }, file: file, line: line)
        }
        // kaiming_uniform, fan_in 2: bound 1/sqrt(2).
        pinned("w", [3, 2], [0.219405293, 0.604605436, -0.300387681, -0.5576967, 0.00516145444, -0.0456551164])
        // normal(0, 1): two draws per element (Box–Muller, first value).
        pinned("b", [3], [-0.182661861, 1.62664199, 0.388309211])
        pinned("z", [2], [0, 0])
        // xavier_uniform, fan_in 2, fan_out 2: bound sqrt(6/4).
        pinned("c", [2, 2], [-1.12004316, 0.118102878, 0.152921736, 0.800068676])
        pinned("one", [], [1])
        pinned("k", [2], [0.1, 0.1])
        pinned("u", [2], [-0.537917197, 2.28755498])
        XCTAssertNotEqual(v["k"]?.scalars[0], 0.1, "0.1 is rounded to f32")
    }

    /// `param w: f32[2, 2] = [[1, 0.1], [-2, 3]]`: the values as listed (rounded once to f32),
    /// and no draw from the init stream, so the params after it start as they would without it.
    func testListedValuesAreCopiedAndDrawNothing() {
        let listed = ParamDecl(name: "w", type: f32(d(2), d(2)), initializer: .values([1, 0.1, -2, 3]))
        let after = ParamDecl(name: "u", type: f32(d(3)), initializer: .uniform(low: -1, high: 1))
        let v = ParamInitializer.initialValues([listed, after], seed: 5)
        XCTAssertEqual(v["w"]?.shape, [2, 2])
        XCTAssertEqual(v["w"]?.scalars, [1, Double(Float(0.1)), -2, 3])
        XCTAssertEqual(v["u"], ParamInitializer.initialValues([after], seed: 5)["u"])
    }

    func testStreamsAreIndependent() {
        // Changing the seed changes the init; the same seed reproduces it.
        let p = [ParamDecl(name: "w", type: f32(d(4)), initializer: .uniform(low: 0, high: 1))]
        XCTAssertEqual(ParamInitializer.initialValues(p, seed: 3), ParamInitializer.initialValues(p, seed: 3))
        XCTAssertNotEqual(ParamInitializer.initialValues(p, seed: 3), ParamInitializer.initialValues(p, seed: 4))
        XCTAssertNotEqual(SplitMix64(seed: 1, stream: .split), SplitMix64(seed: 1, stream: .shuffle))
    }
}
