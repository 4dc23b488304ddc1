import XCTest
import DLCIR
@testable import DLCInterpreter

/// The numbers pinned here were printed by a C program compiled with clang against
/// codegen/dlc_rng.h, so the Swift generator matches the C runtime bit for bit.
final class RandomTests: XCTestCase {
    func testSplitMix64MatchesC() {
        var r = SplitMix64(seed: 0, stream: .initialization)
        XCTAssertEqual(r.state, 0xB382_A305_F441_4F5E)  // mix(mix(1·γ) + 2·γ)
        XCTAssertEqual(r.next(), 0x2F10_1FE2_1496_EA20)
        XCTAssertEqual(r.next(), 0xA006_2408_8F65_D5B6)
        XCTAssertEqual(r.next(), 0x7496_3FA7_9989_4AB9)

        var s = SplitMix64(seed: 42, stream: .shuffle)
        XCTAssertEqual(s.next(), 0x9568_C73B_5FBE_5A4A)
        XCTAssertEqual(s.next(), 0x3D76_F1BF_E14C_1BE3)
        XCTAssertEqual(s.next(), 0x8BDC_40AC_4DB4_86F3)
    }

    func testDrawIsTheIndexedNext() {
        // draw(from: s, at: i) is the value next() returns on its (i+1)-th call from state s.
        var r = SplitMix64(state: 12345)
        for i in 0..<5 { XCTAssertEqual(r.next(), SplitMix64.draw(from: 12345, at: UInt64(i))) }
    }

    /// The defect of the old seeding (`s·γ + k·C`): seed s+1 was seed s's stream moved by one
    /// draw. Now no two streams of seeds 0..63 share any of their first 1000 values (SplitMix64
    /// gives each state one value, so a shared value would be an overlap).
    func testSeedsAndStreamsDoNotOverlap() {
        var seen = Set<UInt64>()
        var count = 0
        for seed in 0..<64 {
            for stream in RandomStream.allCases {
                var r = SplitMix64(seed: seed, stream: stream)
                for _ in 0..<1000 {
                    seen.insert(r.next())
                    count += 1
                }
            }
        }
        XCTAssertEqual(count, 64 * 4 * 1000)
        XCTAssertEqual(seen.count, count, "two streams share a value")
        // The symptom: seed 1's initial params are seed 0's shifted by one element.
        let p = [ParamDecl(name: "w", type: f32(d(8)), initializer: .uniform(low: 0, high: 1))]
        let zero = ParamInitializer.initialValues(p, seed: 0)["w"]!.scalars
        let one = ParamInitializer.initialValues(p, seed: 1)["w"]!.scalars
        XCTAssertNotEqual(Array(zero.dropFirst()), Array(one.dropLast()))
        XCTAssertTrue(Set(zero).isDisjoint(with: one))
    }

    func testDraws() {
        var r = SplitMix64(seed: 0, stream: .initialization)
        XCTAssertEqual(r.uniform01(), 0.18383979100743952)
        XCTAssertEqual(r.uniform01(), 0.62509370049465152)
        XCTAssertEqual(r.uniform01(), 0.45541761247435375)

        var b = SplitMix64(seed: 0, stream: .initialization)
        XCTAssertEqual((0..<5).map { _ in b.below(10) }, [6, 4, 5, 4, 9])
    }

    /// The dropout contract (docs/rng.md): element j of the row at position p of epoch e at site
    /// d draws draw(draw(draw(draw(D, e), d), p), j). Values printed by C against dlc_rng.h.
    func testDropoutDrawsMatchC() {
        let d = DropoutDraw(seed: 0, epoch: 0, firstRow: 0)
        XCTAssertEqual(d.epochKey, 0xD02F_113B_2597_3EE4)
        let site = d.siteKey(0)
        let rows = (0..<2).map { row in
            (0..<3).map { j in SplitMix64.unit(DropoutDraw.bits(DropoutDraw.rowKey(site, position: row), element: j)) }
        }
        let expected = [[0.533125, 0.671465, 0.20148], [0.499194, 0.828468, 0.635738]]
        for (got, want) in zip(rows.joined(), expected.joined()) { XCTAssertEqual(got, want, accuracy: 5e-7) }
    }

    func testFisherYatesMatchesC() {
        var r = SplitMix64(seed: 7, stream: .split)
        XCTAssertEqual(r.permutation(10), [1, 0, 5, 8, 9, 6, 4, 3, 7, 2])
        var one = SplitMix64(seed: 7, stream: .split)
        XCTAssertEqual(one.permutation(1), [0])
        XCTAssertEqual(one, SplitMix64(seed: 7, stream: .split), "no draws for one element")
    }

    func testValidationSplit() {
        // Seed 0, stream 2: the permutation of 0..<5 is [1, 2, 0, 3, 4]; of 0..<10, [8, 1, 9, 2, 5, 7, 3, 6, 0, 4].
        XCTAssertEqual(DataSplit(rows: 5, validationFraction: 0.4, seed: 0),
                       DataSplit(training: [0, 3, 4], validation: [1, 2]))
        XCTAssertEqual(DataSplit(rows: 10, validationFraction: 0.3, seed: 0),
                       DataSplit(training: [0, 2, 3, 4, 5, 6, 7], validation: [1, 8, 9]))
        XCTAssertEqual(DataSplit(rows: 4, validationFraction: 0, seed: 0),
                       DataSplit(training: [0, 1, 2, 3], validation: []))
    }

    func testEpochShuffleContinuesTheStream() {
        var s = EpochShuffler(seed: 0)
        XCTAssertEqual(s.nextOrder(count: 5), [0, 2, 3, 1, 4])
        XCTAssertEqual(s.nextOrder(count: 5), [2, 3, 0, 1, 4])
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
        pinned("w", [3, 2], [-0.447118044, 0.176909208, -0.0630490184, 0.693736672, -0.219414204, -0.155139163])
        // normal(0, 1): two draws per element (Box–Muller, first value).
        pinned("b", [3], [-0.458969027, -1.2645247, -0.492096573])
        pinned("z", [2], [0, 0])
        // xavier_uniform, fan_in 2, fan_out 2: bound sqrt(6/4).
        pinned("c", [2, 2], [-0.959859967, 0.343241185, 1.08577812, 0.24422504])
        pinned("one", [], [1])
        pinned("k", [2], [0.1, 0.1])
        pinned("u", [2], [1.68204331, 0.172081605])
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
