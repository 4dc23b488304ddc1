/// Named arguments read by `keyValues`, taken one by one by name; `finish` rejects the rest.
struct IRArguments {
    enum Value {
        case atom(String), string(String), list([Int])
    }

    /// How the owner reads in messages: `'softmax'`, `sgd`.
    let owner: String
    /// "attribute" for ops, "argument" for train settings.
    let noun: String
    /// Where a missing argument is reported.
    let offset: Int
    var entries: [String: (value: Value, offset: Int, keyOffset: Int)] = [:]
    private var taken = Set<String>()

    init(owner: String, noun: String, offset: Int) {
        self.owner = owner
        self.noun = noun
        self.offset = offset
    }

    private mutating func take(_ key: String) -> (value: Value, offset: Int)? {
        taken.insert(key)
        return entries[key].map { ($0.value, $0.offset) }
    }

    private mutating func atom(_ key: String, _ what: String) throws -> (String, Int) {
        guard let (value, offset) = take(key) else {
            throw ParseFailure(offset: self.offset, message: "\(owner) needs the \(noun) '\(key)'")
        }
        guard case .atom(let a) = value else {
            throw ParseFailure(offset: offset, message: "'\(key)' of \(owner) must be \(what)")
        }
        return (a, offset)
    }

    mutating func int(_ key: String) throws -> Int {
        let (a, offset) = try atom(key, "an integer")
        guard let v = Int(a) else { throw ParseFailure(offset: offset, message: "'\(key)' of \(owner) must be an integer, got '\(a)'") }
        return v
    }

    mutating func double(_ key: String) throws -> Double {
        let (a, offset) = try atom(key, "a number")
        guard let v = Double(a) else { throw ParseFailure(offset: offset, message: "'\(key)' of \(owner) must be a number, got '\(a)'") }
        return v
    }

    mutating func bool(_ key: String) throws -> Bool {
        let (a, offset) = try atom(key, "true or false")
        switch a {
        case "true": return true
        case "false": return false
        default: throw ParseFailure(offset: offset, message: "'\(key)' of \(owner) must be true or false, got '\(a)'")
        }
    }

    /// A boolean attribute that may be left out, meaning false.
    mutating func flag(_ key: String) throws -> Bool {
        if entries[key] == nil {
            taken.insert(key)
            return false
        }
        return try bool(key)
    }

    mutating func ints(_ key: String) throws -> [Int] {
        guard let (value, offset) = take(key) else {
            throw ParseFailure(offset: self.offset, message: "\(owner) needs the \(noun) '\(key)'")
        }
        guard case .list(let xs) = value else {
            throw ParseFailure(offset: offset, message: "'\(key)' of \(owner) must be a list of integers such as [0, 1]")
        }
        return xs
    }

    /// Fails on the first argument (in text order) that was not taken.
    func finish() throws {
        let extra = entries.filter { !taken.contains($0.key) }.min { $0.value.keyOffset < $1.value.keyOffset }
        if let (key, entry) = extra {
            throw ParseFailure(offset: entry.keyOffset, message: "\(owner) has no \(noun) '\(key)'")
        }
    }
}
