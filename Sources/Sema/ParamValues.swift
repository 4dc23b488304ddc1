import DLCDiagnostics
import DLCIR
import DLCSyntax

/// `param w: f32[2] = [1.0, 0.5]`, `param m: f32[2, 2] = [[1, 0], [0, 1]]`: a param's initial
/// values written out, as `torch.tensor([...])` in the lecture notes. The nesting follows the
/// shape (one list per axis), every element is a number or a const expression, and each
/// mismatch is reported where it is.
extension Analyzer {
    /// The listed values in row-major order, or nil after reporting.
    mutating func listedValues(_ e: Expr, _ type: TensorType, name: String) -> Initializer? {
        let dims = type.shape.dims.compactMap(\.fixedSize)
        guard !dims.isEmpty else {
            diagnostics.error(e.location, "a scalar param takes a number, not a list",
                              hint: "write e.g. 'param \(name): \(type) = 1.0'")
            return nil
        }
        var values: [Double] = []
        var ok = true
        collect(e, dims: dims[...], axis: 0, type: type, into: &values, ok: &ok)
        return ok ? .values(values) : nil
    }

    /// Appends the elements of `e`, a list for axis `axis` of `dims`, to `values`.
    private mutating func collect(_ e: Expr, dims: ArraySlice<Int>, axis: Int, type: TensorType,
                                  into values: inout [Double], ok: inout Bool) {
        guard let size = dims.first else {
            // An element: a number or a const expression.
            if case .list = e.kind {
                diagnostics.error(e.location, "too many nested lists: \(type) has \(type.rank) ax\(type.rank == 1 ? "is" : "es")")
                ok = false
            } else if let c = consts.evaluate(e) {
                if !c.value.isFinite || abs(c.value) > Double(Float.greatestFiniteMagnitude) {
                    diagnostics.error(e.location, "initial value \(formatNumber(c.value)) is out of f32 range")
                    ok = false
                }
                values.append(c.value)
            } else {
                diagnostics.error(e.location, "an initial value must be a number or a const expression")
                ok = false
            }
            return
        }
        guard case .list(let items) = e.kind else {
            diagnostics.error(e.location, "expected a list of \(size) for axis \(axis) of \(type), found a number",
                              hint: type.rank > 1 ? "nest one list per axis, e.g. [[1, 2], [3, 4]] for f32[2, 2]" : nil)
            ok = false
            return
        }
        let flat = !items.contains { if case .list = $0.kind { return true }; return false }
        if axis == 0, type.rank > 1, flat, items.count == type.shape.fixedElementCount {
            diagnostics.error(e.location, "\(type) is written as nested lists, one per axis, not one flat list",
                              hint: "e.g. [[1, 2], [3, 4]] for f32[2, 2]: a list of rows")
            ok = false
            return
        }
        guard items.count == size else {
            diagnostics.error(e.location, "axis \(axis) of \(type) has \(size) elements, but this list has \(items.count)")
            ok = false
            return
        }
        for item in items where ok {  // the first mistake is enough: the others are usually the same
            collect(item, dims: dims.dropFirst(), axis: axis + 1, type: type, into: &values, ok: &ok)
        }
    }
}
