/// A program a build runs, and where dlc looks for it: the environment variable that names it
/// (which may carry arguments: CC="ccache clang"), else the first of `searchedNames` on PATH,
/// else the first of `searchedPaths` that exists. The toolchain probe finds each tool a backend
/// states, and a missing one is reported with `installNote`.
public struct Tool: Hashable, Sendable {
    /// What it is, in messages ("C compiler").
    public var role: String
    /// The environment variable naming it (`CC`).
    public var variable: String
    public var searchedNames: [String]
    public var searchedPaths: [String]
    /// How to install it ("apt-get install clang").
    public var installNote: String

    public init(role: String, variable: String, searchedNames: [String], searchedPaths: [String], installNote: String) {
        self.role = role
        self.variable = variable
        self.searchedNames = searchedNames
        self.searchedPaths = searchedPaths
        self.installNote = installNote
    }

    /// The C compiler every trainer needs (the runtime is C). The fixed paths come after PATH,
    /// a Swift toolchain's clang among them, for machines whose PATH lacks it.
    public static let cc = Tool(
        role: "C compiler", variable: "CC", searchedNames: ["clang", "cc", "gcc"],
        searchedPaths: ["/usr/bin/clang", "/usr/bin/cc", "/usr/bin/gcc", "/opt/swift/usr/bin/clang"],
        installNote: "apt-get install clang")

    /// MPI's C compiler wrapper, which builds the runtime of a data-parallel trainer (`--mpi`):
    /// $MPICC, else mpicc on PATH (Open MPI's, MPICH's or a cluster's module).
    public static let mpicc = Tool(
        role: "MPI C compiler wrapper (mpicc)", variable: "MPICC", searchedNames: ["mpicc"], searchedPaths: ["/usr/bin/mpicc"],
        installNote: "apt-get install openmpi-bin libopenmpi-dev (Fedora: dnf install openmpi-devel), or set MPICC")
}
