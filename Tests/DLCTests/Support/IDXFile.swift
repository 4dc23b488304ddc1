import Foundation

/// Writes an IDX file of unsigned bytes (the format MNIST comes in): magic 0x00000800 + the
/// number of dimensions, each dimension as a big-endian 32-bit count, then the values.
func writeIDX(_ url: URL, dims: [Int], values: [UInt8]) throws {
    var bytes: [UInt8] = [0, 0, 8, UInt8(dims.count)]
    for d in dims { bytes += [24, 16, 8, 0].map { UInt8((d >> $0) & 0xff) } }
    try Data(bytes + values).write(to: url)
}
