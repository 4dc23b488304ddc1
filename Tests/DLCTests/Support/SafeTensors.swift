import Foundation

/// A safetensors file read whole (the trainers' checkpoint format): every tensor with its shape,
/// and the `__metadata__` strings. Only what tests need: F32 tensors (in `values`) and I64 ones
/// (batch normalization's num_batches_tracked, in `integers`), strict offsets (each tensor's
/// bytes must be exactly its shape's size and lie inside the file).
struct SafeTensors {
    struct Entry: Equatable {
        var shape: [Int]
        /// F32 values (empty for an I64 tensor).
        var values: [Float]
        var dtype = "F32"
        /// I64 values (empty for an F32 tensor).
        var integers: [Int64] = []
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    var tensors: [String: Entry] = [:]
    var metadata: [String: String] = [:]

    init(contentsOf url: URL) throws {
        let data = try Data(contentsOf: url)
        func fail(_ why: String) -> Failure { Failure(description: "\(url.lastPathComponent): \(why)") }
        guard data.count >= 8 else { throw fail("shorter than its 8-byte header length") }
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(data.count - 8) else { throw fail("header length \(headerLength) exceeds the file") }
        let start = 8 + Int(headerLength)
        let header = data.subdata(in: 8..<start)
        guard let json = try JSONSerialization.jsonObject(with: header) as? [String: Any] else {
            throw fail("the header is not a JSON object")
        }
        for (name, value) in json {
            if name == "__metadata__" {
                guard let meta = value as? [String: String] else { throw fail("__metadata__ is not a string map") }
                metadata = meta
                continue
            }
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String, dtype == "F32" || dtype == "I64",
                  let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int], offsets.count == 2
            else { throw fail("'\(name)' is not an F32 or I64 tensor entry") }
            let count = shape.reduce(1, *), width = dtype == "F32" ? 4 : 8
            guard offsets[0] >= 0, offsets[1] - offsets[0] == width * count, start + offsets[1] <= data.count else {
                throw fail("'\(name)' has bad data_offsets \(offsets) for shape \(shape)")
            }
            let bytes = data.subdata(in: (start + offsets[0])..<(start + offsets[1]))
            if dtype == "I64" {
                let integers = (0..<count).map { i -> Int64 in
                    Int64(bitPattern: (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[bytes.startIndex + 8 * i + $1]) << (8 * UInt64($1)) })
                }
                tensors[name] = Entry(shape: shape, values: [], dtype: dtype, integers: integers)
                continue
            }
            let values = (0..<count).map { i -> Float in
                let bits = (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[bytes.startIndex + 4 * i + $1]) << (8 * UInt32($1)) }
                return Float(bitPattern: bits)
            }
            tensors[name] = Entry(shape: shape, values: values)
        }
    }
}

extension SafeTensors {
    /// Writes F32 tensors in the given order, names sorted as `safetensors.torch.save_file`
    /// sorts them (by name, for one dtype), so that tests can make PyTorch-like files.
    static func write(_ tensors: [(name: String, shape: [Int], values: [Float])], metadata: [String: String] = [:],
                      to url: URL) throws {
        var header = "{", payload = Data()
        if !metadata.isEmpty {
            let json = try JSONSerialization.data(withJSONObject: metadata, options: [.sortedKeys])
            header += "\"__metadata__\":" + String(decoding: json, as: UTF8.self) + ","
        }
        for (i, t) in tensors.sorted(by: { $0.name < $1.name }).enumerated() {
            precondition(t.values.count == t.shape.reduce(1, *))
            let begin = payload.count
            for v in t.values { withUnsafeBytes(of: v.bitPattern.littleEndian) { payload.append(contentsOf: $0) } }
            header += (i > 0 ? "," : "") + "\"\(t.name)\":{\"dtype\":\"F32\",\"shape\":\(t.shape),\"data_offsets\":[\(begin),\(payload.count)]}"
        }
        header += "}"
        while header.utf8.count % 8 != 0 { header += " " }
        var data = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(Data(header.utf8))
        data.append(payload)
        try data.write(to: url)
    }
}
