import CRuntimeRules
import DLCIR
import DLCInterpreter
import Foundation

/// A bad data file: the message is complete, `FILE:LINE:COL: error: MESSAGE` (spec section 8).
public struct DataFailure: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// Reads a CSV file into the tensors a graph's inputs and targets need, with the rules of spec
/// section 8 (the C runtime's loader follows the same rules; the two are tested on the same
/// files): a first row that is not numeric is a header; without `columns`, the columns fill
/// the inputs and then the targets in declaration order, each flattened row-major; every
/// field must be a finite number, i32 fields integers, class labels in range.
public struct CSVData {
    public let path: String
    public private(set) var header: [String]?
    /// Each data row's fields, and its 1-based physical line.
    public private(set) var rows: [[Double]] = []
    public private(set) var lines: [Int] = []

    public init(path: String) throws {
        self.path = path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataFailure(message: "\(path): error: cannot read the file (\(FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file"))")
        }
        let text = String(decoding: data, as: UTF8.self)
        var width: Int?
        for (i, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            if i == 0, fields.contains(where: { Double($0) == nil }) {
                header = fields
                width = fields.count
                continue
            }
            if let w = width, fields.count != w {
                throw failure(line: i + 1, column: min(fields.count, w) + 1,
                              fields.count < w ? "short row: \(fields.count) fields, expected \(w)"
                                               : "long row: \(fields.count) fields, expected \(w)")
            }
            width = fields.count
            var values: [Double] = []
            for (j, f) in fields.enumerated() {
                if f.isEmpty { throw failure(line: i + 1, column: j + 1, "empty field") }
                guard let v = Double(f) else { throw failure(line: i + 1, column: j + 1, "'\(f)' is not a number") }
                guard v.isFinite else { throw failure(line: i + 1, column: j + 1, "'\(f)' is not a finite number") }
                values.append(v)
            }
            rows.append(values)
            lines.append(i + 1)
        }
        if rows.isEmpty { throw DataFailure(message: "\(path):1:1: error: the file has no data rows") }
    }

    private func failure(line: Int, column: Int, _ message: String) -> DataFailure {
        DataFailure(message: "\(path):\(line):\(column): error: \(message)")
    }

    /// Column indices for a COLUMNS spec, by the runtime's own resolver (codegen/dlc_columns.c,
    /// docs/language.md "Columns"): header names, 0-based indices, ranges `A-B` and ranges of
    /// header names `NAME1-NAME2`.
    public func columnIndices(_ spec: String) throws -> [Int] {
        let width = rows.first?.count ?? 0
        // The header's names, one after another in one buffer, and where each starts.
        let names = header ?? []
        var bytes: [CChar] = []
        var starts: [Int] = []
        for name in names {
            starts.append(bytes.count)
            bytes += name.utf8.map { CChar(bitPattern: $0) }
        }
        var why = [CChar](repeating: 0, count: 512)
        var cols: UnsafeMutablePointer<Int64>?
        let count: Int64 = bytes.withUnsafeBufferPointer { buffer in
            let base = buffer.baseAddress ?? UnsafePointer<CChar>(bitPattern: 1)!
            let fields = zip(starts, names).map { dlc_column_name(s: base + $0, len: $1.utf8.count) }
            return fields.withUnsafeBufferPointer { f in
                dlc_columns_resolve(spec, f.baseAddress, Int64(f.count), Int64(width), &cols, &why, why.count)
            }
        }
        defer { free(cols) }
        guard count >= 0, let cols else {
            let reason = count == -2 ? "out of memory" : String(cString: why)
            throw DataFailure(message: "\(path):\(header == nil ? lines.first ?? 1 : 1):1: error: \(reason)")
        }
        return (0..<Int(count)).map { Int(cols[$0]) }
    }

    /// The feed of every input and target of `graph`, from all rows.
    public func feeds(for graph: Graph, columns: [ColumnBinding]) throws -> [String: Tensor] {
        let perExample = graph.data.map { $0.type.shape.dims.dropFirst().reduce(1) { $0 * ($1.fixedSize ?? 1) } }
        var assignment: [String: [Int]] = [:]
        if columns.isEmpty {
            let needed = perExample.reduce(0, +)
            let width = rows[0].count
            guard needed == width else {
                throw failure(line: lines[0], column: 1,
                              "rows have \(width) fields, but the model's inputs and targets take \(needed) (\(graph.data.map { "\($0.name): \($0.type)" }.joined(separator: ", ")))")
            }
            var next = 0
            for (d, n) in zip(graph.data, perExample) {
                assignment[d.name] = Array(next..<next + n)
                next += n
            }
        } else {
            for b in columns { assignment[b.name] = try columnIndices(b.columns) }
        }
        var feeds: [String: Tensor] = [:]
        let classes = graph.labelClasses()
        for (d, n) in zip(graph.data, perExample) {
            guard let cols = assignment[d.name] else {
                throw DataFailure(message: "\(path): error: no columns given for '\(d.name)'")
            }
            guard cols.count == n else {
                throw DataFailure(message: "\(path): error: '\(d.name)' (\(d.type)) takes \(n) columns per row, got \(cols.count)")
            }
            var scalars: [Double] = []
            scalars.reserveCapacity(rows.count * n)
            for (r, row) in rows.enumerated() {
                for c in cols {
                    let v = row[c]
                    if d.type.dtype == .i32 {
                        guard v.rounded() == v, abs(v) < 2147483648 else {
                            throw failure(line: lines[r], column: c + 1, "'\(d.name)' is i32, but \(v) is not an integer")
                        }
                        if let k = classes[d.name], v < 0 || v >= Double(k) {
                            throw failure(line: lines[r], column: c + 1, "label \(Int(v)) is out of range: '\(d.name)' has \(k) classes (0...\(k - 1))")
                        }
                    }
                    scalars.append(v)
                }
            }
            let shape = d.type.shape.dims.first == .batch
                ? [rows.count] + d.type.shape.dims.dropFirst().map { $0.fixedSize ?? 1 }
                : d.type.shape.sizes(batch: 1)
            feeds[d.name] = Tensor(shape: shape, scalars: scalars)
        }
        return feeds
    }
}
