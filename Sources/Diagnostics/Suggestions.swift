/// "did you mean 'relu'?" hints: the closest candidate by edit distance, if close enough to be
/// a typo. Shared by the model language's and the IR text's diagnostics.
public enum Suggestions {
    /// The candidate closest to `name` (ties go to the first in sorted order, so the hint is
    /// the same every run), within a distance that grows slowly with the name's length.
    public static func closest(to name: String, in candidates: [String]) -> String? {
        guard name.utf8.count <= 64 else { return nil }
        let limit = max(1, min(3, name.count / 3 + 1))
        var best: (String, Int)?
        for c in candidates.sorted() where c != name {
            let d = editDistance(Array(name.lowercased().utf8), Array(c.lowercased().utf8))
            if d <= limit, d < (best?.1 ?? .max) { best = (c, d) }
        }
        return best?.0
    }

    /// `did you mean 'X'?`, or nil.
    public static func hint(for name: String, in candidates: [String]) -> String? {
        closest(to: name, in: candidates).map { "did you mean '\($0)'?" }
    }

    /// Levenshtein distance.
    public static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var row = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = row
        }
        return previous[b.count]
    }
}
