/// How the C backend spreads a model's kernel functions over files that compile side by side.
///
/// A warm `dlc compile` is mostly the C compiler's time on the kernels (LeNet: 0.32 s of
/// 0.38 s in one file), and one file keeps one core busy. The split depends on the kernels
/// alone, never on the machine, so that a model's files (and `--emit c`) are the same
/// everywhere; up to `maximumFiles` serves a few cores, while each file's fixed cost (about
/// 15 ms: a process, the headers) keeps small models to one or two.
enum CKernelFiles {
    /// The most files: more would each add their headers' cost on two-core machines.
    static let maximumFiles = 4
    /// About this much kernel text (bytes) justifies a file of its own.
    static let bytesPerFile = 9_000

    /// The functions (by their sizes, in print order) of each file: contiguous runs, so that
    /// a file reads in the order the entries call them, of about equal size. No file is empty;
    /// no kernels, no files.
    static func parts(_ sizes: [Int]) -> [Range<Int>] {
        let total = sizes.reduce(0, +)
        guard total > 0 else { return [] }
        let count = min(maximumFiles, sizes.count, (total + bytesPerFile - 1) / bytesPerFile)
        // Each function goes to the file its middle byte falls in.
        var file: [Int] = []
        var before = 0
        for size in sizes {
            file.append(min(count - 1, (2 * before + size) * count / (2 * total)))
            before += size
        }
        var runs: [Range<Int>] = []
        var start = 0
        for i in 1...sizes.count where i == sizes.count || file[i] != file[i - 1] {
            runs.append(start..<i)
            start = i
        }
        return runs
    }
}
