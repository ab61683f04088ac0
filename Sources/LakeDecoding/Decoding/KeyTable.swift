#if canImport(Glibc)
import LakeModel
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Member names → index, for matching JSON keys without building strings. Payloads usually
/// list their keys in the same order every time, so the entry after the last match is tried first.
final class KeyTable {
    private let bytes: UnsafeMutablePointer<UInt8>
    private let starts: [Int]
    private let lengths: [Int]
    let names: [String]

    init(_ names: [String]) {
        self.names = names
        var starts: [Int] = []
        var lengths: [Int] = []
        var total = 0
        for n in names {
            starts.append(total)
            lengths.append(n.utf8.count)
            total += n.utf8.count
        }
        bytes = .allocate(capacity: max(total, 1))
        for (i, n) in names.enumerated() {
            for (j, b) in n.utf8.enumerated() { bytes[starts[i] + j] = b }
        }
        self.starts = starts
        self.lengths = lengths
    }

    deinit { bytes.deallocate() }

    var count: Int { names.count }

    /// The index of `key`, or -1. `hint` is the index to try first; it is moved past the match.
    @inline(__always)
    func lookup(_ key: UnsafeRawBufferPointer, hint: inout Int) -> Int {
        let n = lengths.count
        if n == 0 { return -1 }
        let h = hint < n ? hint : 0
        if matches(h, key) {
            hint = h + 1
            return h
        }
        for i in 0..<n where i != h && matches(i, key) {
            hint = i + 1
            return i
        }
        return -1
    }

    @inline(__always)
    private func matches(_ i: Int, _ key: UnsafeRawBufferPointer) -> Bool {
        let len = lengths[i]
        guard len == key.count else { return false }
        return len == 0 || memcmp(bytes + starts[i], key.baseAddress!, len) == 0
    }
}
