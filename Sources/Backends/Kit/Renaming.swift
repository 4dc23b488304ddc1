import DLCLowering

extension Entry {
    /// The entry with its buffers renamed for a printer's language: a buffer whose name the
    /// language or the printer's own code reserves (`reserved`) takes the first free
    /// `NAME_2`, `NAME_3`, ... Names stay unique; the others are kept.
    public func renamed(avoiding reserved: Set<String>) -> Entry {
        var e = self
        var taken = Set(buffers.map(\.name))
        for i in e.buffers.indices where reserved.contains(e.buffers[i].name) {
            let base = e.buffers[i].name
            var name = base, k = 2
            while taken.contains(name) || reserved.contains(name) { name = "\(base)_\(k)"; k += 1 }
            taken.insert(name)
            e.buffers[i].name = name
        }
        return e
    }
}
