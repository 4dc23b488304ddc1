import DLCIR

// MARK: - Movement

extension Kernels {
    /// The 2-D transpose.
    static func transpose(_ x: Tensor) -> Tensor {
        let (rows, cols) = (x.shape[0], x.shape[1])
        var out = [Double](repeating: 0, count: x.count)
        for r in 0..<rows {
            for c in 0..<cols { out[c * rows + r] = x.scalars[r * cols + c] }
        }
        return Tensor(shape: [cols, rows], scalars: out)
    }

    /// The operands joined along `axis` (equal sizes on the other axes).
    static func concat(_ xs: [Tensor], axis: Int) -> Tensor {
        var shape = xs[0].shape
        shape[axis] = xs.reduce(0) { $0 + $1.shape[axis] }
        let outer = Tensor.lanes(shape, axis: axis).outer
        var out = [Double]()
        out.reserveCapacity(Tensor.count(shape))
        for o in 0..<outer {
            for x in xs {
                // Each operand contributes one contiguous chunk of size[axis] * inner per outer index.
                let (_, size, inner) = Tensor.lanes(x.shape, axis: axis)
                let chunk = size * inner
                out += x.scalars[(o * chunk)..<((o + 1) * chunk)]
            }
        }
        return Tensor(shape: shape, scalars: out)
    }

    /// The `length` entries from `start` along `axis`.
    static func slice(_ x: Tensor, axis: Int, start: Int, length: Int) -> Tensor {
        let (outer, size, inner) = Tensor.lanes(x.shape, axis: axis)
        var out = [Double]()
        for o in 0..<outer {
            out += x.scalars[((o * size + start) * inner)..<((o * size + start + length) * inner)]
        }
        var shape = x.shape
        shape[axis] = length
        return Tensor(shape: shape, scalars: out)
    }
}

// MARK: - Linear algebra

extension Kernels {
    /// `op(a) @ op(b)`, where op transposes the last two axes when its flag is set. Each operand
    /// is a matrix or a stack of matrices (one leading axis); a matrix is shared by every
    /// matrix of the other stack. Products sum over the inner index in ascending order.
    static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool, transposeB: Bool) -> Tensor {
        let x = matrices(a, transposed: transposeA), y = matrices(b, transposed: transposeB)
        let stacks = max(x.stack.count, y.stack.count)
        let (m, inner, n) = (x.rows, x.cols, y.cols)
        var out = [Double]()
        out.reserveCapacity(stacks * m * n)
        for s in 0..<stacks {
            let (p, q) = (x.stack[x.stack.count == 1 ? 0 : s], y.stack[y.stack.count == 1 ? 0 : s])
            for i in 0..<m {
                for j in 0..<n {
                    var acc = 0.0
                    for k in 0..<inner { acc += p[i * inner + k] * q[k * n + j] }
                    out.append(acc)
                }
            }
        }
        let shape = (a.rank == 3 || b.rank == 3 ? [stacks] : []) + [m, n]
        return Tensor(shape: shape, scalars: out)
    }

    /// A matmul operand as row-major matrices (one, or one per leading index), transposed first
    /// when asked.
    static func matrices(_ t: Tensor, transposed: Bool) -> (stack: [[Double]], rows: Int, cols: Int) {
        let (r, c) = (t.shape[t.rank - 2], t.shape[t.rank - 1])
        let count = t.rank == 3 ? t.shape[0] : 1
        let stack = (0..<count).map { s -> [Double] in
            let matrix = Tensor(shape: [r, c], scalars: Array(t.scalars[(s * r * c)..<((s + 1) * r * c)]))
            return transposed ? transpose(matrix).scalars : matrix.scalars
        }
        return (stack, transposed ? c : r, transposed ? r : c)
    }

    /// Checks that an index tensor's values are rows of a table with `rows` rows.
    static func checkIndices(_ idx: Tensor, rows: Int, what: String) throws {
        if let bad = idx.scalars.first(where: { $0 < 0 || $0 >= Double(rows) }) {
            throw KernelFailure("\(what) \(Int(exactly: bad).map(String.init) ?? "\(bad)") is out of range "
                                    + "for a table of \(rows) row\(rows == 1 ? "" : "s") (valid: 0 to \(rows - 1))")
        }
    }

    /// Rows of `table` along axis 0: shape `idx.shape + table.shape[1...]`. An index outside
    /// `0..<rows` (negative ones included) is an error.
    static func gather(_ table: Tensor, _ idx: Tensor) throws -> Tensor {
        try checkIndices(idx, rows: table.shape[0], what: "index")
        let rowSize = Tensor.count(Array(table.shape.dropFirst()))
        var out = [Double]()
        out.reserveCapacity(idx.count * rowSize)
        for r in idx.scalars.map({ Int($0) }) {
            out += table.scalars[(r * rowSize)..<((r + 1) * rowSize)]
        }
        return Tensor(shape: idx.shape + table.shape.dropFirst(), scalars: out)
    }

    /// Zeros of `shape` with each row of `updates` added at row `idx[...]` (the gradient of
    /// gather). Updates are added in row-major order of `idx`.
    static func scatterAdd(_ idx: Tensor, _ updates: Tensor, shape: [Int], dtype: DType) throws -> Tensor {
        try checkIndices(idx, rows: shape[0], what: "index")
        let rowSize = Tensor.count(Array(shape.dropFirst()))
        var out = [Double](repeating: 0, count: Tensor.count(shape))
        for (j, r) in idx.scalars.map({ Int($0) }).enumerated() {
            for t in 0..<rowSize { out[r * rowSize + t] += updates.scalars[j * rowSize + t] }
        }
        if dtype == .i32 { out = out.map { wrap(int($0)) } }
        return Tensor(shape: shape, scalars: out)
    }
}
