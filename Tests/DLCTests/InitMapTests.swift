import Foundation
import XCTest

/// `--init-map`: an `nn.Sequential` checkpoint (`0.weight`, `2.bias`, ...) loaded into a model
/// whose layers have names (models/wine_binary.dl: `l1`, `l2`), by a prefix map and by position.
/// The refusals and their listings are golden files (Golden/runs/init_*.run).
final class InitMapTests: XCTestCase {
    static let checkpoint = Golden.directory.appendingPathComponent("runs/data/sequential.safetensors")

    func testSequentialCheckpointLoadsByPrefixMapAndByPosition() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("dlc-init-map-\(getpid())")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let exe = work.appendingPathComponent("wine_binary")
        let built = try Run.dlc(["compile", "models/wine_binary.dl", "-o", exe.path], in: Golden.root)
        XCTAssertEqual(built.status, 0, built.stderr)
        let source = try SafeTensors(contentsOf: Self.checkpoint)
        let renames = ["l1.weight": "0.weight", "l1.bias": "0.bias", "l2.weight": "2.weight", "l2.bias": "2.bias"]
        for map in ["0.=l1.,2.=l2.", "position"] {
            let out = work.appendingPathComponent("out.safetensors")
            let r = try Run.run(exe, ["train", "--init", Self.checkpoint.path, "--init-map", map, "--steps", "0",
                                      "--save", out.path], in: Golden.root)
            XCTAssertEqual(r.status, 0, "\(map): \(r.stderr)")
            let saved = try SafeTensors(contentsOf: out)
            XCTAssertEqual(Set(saved.tensors.keys), Set(renames.keys), map)
            for (param, tensor) in renames {
                XCTAssertEqual(saved.tensors[param], source.tensors[tensor], "\(map): \(param) from \(tensor)")
            }
        }
        // eval --weights reads through the same map (the file also holds the normalize
        // statistics that wine_binary's eval needs, as a converted checkpoint would).
        let weights = work.appendingPathComponent("sequential-normalized.safetensors")
        try SafeTensors.write(renames.values.sorted().map { ($0, source.tensors[$0]!.shape, source.tensors[$0]!.values) },
                              metadata: ["normalize.x.mean": "[13.0, 750.0]", "normalize.x.std": "[0.8, 310.0]"], to: weights)
        let eval = try Run.run(exe, ["eval", "--weights", weights.path, "--init-map", "position"], in: Golden.root)
        XCTAssertEqual(eval.status, 0, eval.stderr)
        XCTAssertTrue(eval.stdout.hasPrefix("loss: "), eval.stdout)
    }
}
