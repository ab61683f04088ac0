import LakeModel
import LakeOutput
import LakeDecoding
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The whole input of `convert` in memory: a read-only mapping of a file, or stdin read to the end.
/// Mapping keeps a 170 MB input out of the heap; the pages are read on demand by the decoders.
final class InputBytes: @unchecked Sendable {
    // Immutable after init; the decoders only read it, so sharing across threads is safe.
    let base: UnsafeRawPointer?
    let count: Int
    private let mapped: Bool

    init(path: String) throws(ConvertError) {
        if path == "-" {
            var data = [UInt8]()
            var chunk = [UInt8](repeating: 0, count: 1 << 20)
            while true {
                let n = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ConvertError.io("reading stdin: \(String(cString: strerror(errno)))")
                }
                if n == 0 { break }
                data.append(contentsOf: chunk[0..<n])
            }
            let p = UnsafeMutableRawPointer.allocate(byteCount: max(data.count, 1), alignment: 16)
            data.withUnsafeBytes { if $0.count > 0 { p.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
            base = UnsafeRawPointer(p)
            count = data.count
            mapped = false
            return
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ConvertError.io("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ConvertError.io("cannot stat \(path): \(String(cString: strerror(errno)))") }
        count = Int(st.st_size)
        if count == 0 {
            base = nil
            mapped = false
            return
        }
        guard let m = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0), m != MAP_FAILED else {
            throw ConvertError.io("cannot map \(path): \(String(cString: strerror(errno)))")
        }
        madvise(m, count, MADV_SEQUENTIAL)
        base = UnsafeRawPointer(m)
        mapped = true
    }

    deinit {
        guard let base else { return }
        if mapped { munmap(UnsafeMutableRawPointer(mutating: base), count) } else { base.deallocate() }
    }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
}
