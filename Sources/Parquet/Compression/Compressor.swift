import CLZ4
import CSnappy
import CZlib
import CZstd

/// Compresses pages with one codec, keeping the codec's context (zstd CCtx, zlib stream)
/// and a scratch buffer across calls so a column writer allocates nothing per page once
/// warmed up.
///
/// Not thread-safe: use one per column or row-group writer.
public final class Compressor {
    public let compression: Compression
    private var zstdContext: OpaquePointer?
    private var zstream: UnsafeMutablePointer<z_stream>?
    private var scratch: UnsafeMutableRawPointer?
    private var scratchCapacity = 0

    public init(_ compression: Compression) throws {
        self.compression = compression
        switch compression {
        case .zstd:
            guard let ctx = ZSTD_createCCtx() else {
                throw CompressionError(codec: .zstd, message: "ZSTD_createCCtx failed")
            }
            zstdContext = ctx
        case .gzip(let level):
            // zlib keeps a back pointer to the stream, so it needs a fixed address.
            let s = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
            s.initialize(to: z_stream())
            // windowBits 15 + 16 selects the gzip wrapper (RFC 1952).
            let rc = deflateInit2_(s, Int32(level), Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
                                   zlibVersion(), Int32(MemoryLayout<z_stream>.size))
            guard rc == Z_OK else {
                s.deinitialize(count: 1)
                s.deallocate()
                throw CompressionError(codec: .gzip, message: "deflateInit2 returned \(rc)")
            }
            zstream = s
        case .uncompressed, .snappy, .lz4Raw:
            break
        }
    }

    deinit {
        if let zstdContext { ZSTD_freeCCtx(zstdContext) }
        if let zstream {
            deflateEnd(zstream)
            zstream.deinitialize(count: 1)
            zstream.deallocate()
        }
        scratch?.deallocate()
    }

    /// The largest output `compress` can produce for `inputSize` bytes.
    public func maxCompressedLength(_ inputSize: Int) -> Int {
        switch compression {
        case .uncompressed: inputSize
        case .snappy: snappy_max_compressed_length(inputSize)
        case .gzip: Int(deflateBound(zstream, UInt(inputSize)))
        case .zstd: ZSTD_compressBound(inputSize)
        case .lz4Raw: Int(LZ4_compressBound(Int32(clamping: inputSize)))
        }
    }

    /// Compresses `input` and appends the result to `output`; returns the compressed length.
    public func compress(_ input: UnsafeRawBufferPointer, appendingTo output: inout [UInt8]) throws -> Int {
        if case .uncompressed = compression {
            output.append(contentsOf: input)
            return input.count
        }
        let bound = maxCompressedLength(input.count)
        let dst = scratchBuffer(bound)
        let n = try compress(input, into: UnsafeMutableRawBufferPointer(start: dst, count: bound))
        output.append(contentsOf: UnsafeRawBufferPointer(start: dst, count: n))
        return n
    }

    /// Convenience for tests and small inputs.
    public func compress(_ input: [UInt8]) throws -> [UInt8] {
        var out: [UInt8] = []
        _ = try input.withUnsafeBytes { try compress($0, appendingTo: &out) }
        return out
    }

    private func scratchBuffer(_ size: Int) -> UnsafeMutableRawPointer {
        if let scratch, scratchCapacity >= size { return scratch }
        scratch?.deallocate()
        let cap = Swift.max(size, scratchCapacity * 2, 4096)
        let p = UnsafeMutableRawPointer.allocate(byteCount: cap, alignment: 16)
        scratch = p
        scratchCapacity = cap
        return p
    }

    private func compress(_ input: UnsafeRawBufferPointer, into dst: UnsafeMutableRawBufferPointer) throws -> Int {
        // A zero-length input may come with a nil base address; the codecs want a pointer.
        let empty: UInt8 = 0
        return try withUnsafePointer(to: empty) { emptyPtr in
            let src = input.baseAddress ?? UnsafeRawPointer(emptyPtr)
            switch compression {
            case .uncompressed:
                dst.copyMemory(from: input)
                return input.count
            case .snappy:
                var outLen = dst.count
                let rc = snappy_compress(src.assumingMemoryBound(to: CChar.self), input.count,
                                         dst.baseAddress!.assumingMemoryBound(to: CChar.self), &outLen)
                guard rc == SNAPPY_OK else { throw CompressionError(codec: .snappy, message: "snappy_compress returned \(rc)") }
                return outLen
            case .zstd(let level):
                let n = ZSTD_compressCCtx(zstdContext, dst.baseAddress, dst.count, src, input.count, Int32(level))
                if ZSTD_isError(n) != 0 {
                    throw CompressionError(codec: .zstd, message: String(cString: ZSTD_getErrorName(n)))
                }
                return n
            case .lz4Raw:
                guard input.count <= Int(LZ4_MAX_INPUT_SIZE) else {
                    throw CompressionError(codec: .lz4Raw, message: "input of \(input.count) bytes exceeds LZ4's limit")
                }
                let n = LZ4_compress_default(src.assumingMemoryBound(to: CChar.self),
                                             dst.baseAddress!.assumingMemoryBound(to: CChar.self),
                                             Int32(input.count), Int32(clamping: dst.count))
                guard n > 0 || input.isEmpty else { throw CompressionError(codec: .lz4Raw, message: "LZ4_compress_default failed") }
                return Int(n)
            case .gzip:
                let s = zstream!
                var rc = deflateReset(s)
                guard rc == Z_OK else { throw CompressionError(codec: .gzip, message: "deflateReset returned \(rc)") }
                s.pointee.next_in = UnsafeMutablePointer(mutating: src.assumingMemoryBound(to: Bytef.self))
                s.pointee.avail_in = uInt(input.count)
                s.pointee.next_out = dst.baseAddress!.assumingMemoryBound(to: Bytef.self)
                s.pointee.avail_out = uInt(dst.count)
                rc = deflate(s, Z_FINISH)
                let produced = Int(s.pointee.total_out)
                // A finished stream reports a smaller deflateBound (its gzip wrapper is
                // marked written), so leave it reset for the next maxCompressedLength.
                deflateReset(s)
                guard rc == Z_STREAM_END else { throw CompressionError(codec: .gzip, message: "deflate returned \(rc)") }
                return produced
            }
        }
    }

    /// Decompresses a whole page (used by tests and the metadata reader's helpers).
    public static func decompress(_ input: UnsafeRawBufferPointer, codec: CompressionCodec,
                                  uncompressedSize: Int) throws -> [UInt8] {
        if uncompressedSize == 0 { return [] }
        let empty: UInt8 = 0
        return try withUnsafePointer(to: empty) { emptyPtr in
            let src = input.baseAddress ?? UnsafeRawPointer(emptyPtr)
            var out = [UInt8](repeating: 0, count: uncompressedSize)
            let produced: Int = try out.withUnsafeMutableBytes { dst in
                switch codec {
                case .uncompressed:
                    guard input.count == uncompressedSize else { return input.count }
                    dst.copyMemory(from: input)
                    return input.count
                case .snappy:
                    var len = dst.count
                    let rc = snappy_uncompress(src.assumingMemoryBound(to: CChar.self), input.count,
                                               dst.baseAddress!.assumingMemoryBound(to: CChar.self), &len)
                    guard rc == SNAPPY_OK else { throw CompressionError(codec: .snappy, message: "snappy_uncompress returned \(rc)") }
                    return len
                case .zstd:
                    let n = ZSTD_decompress(dst.baseAddress, dst.count, src, input.count)
                    if ZSTD_isError(n) != 0 {
                        throw CompressionError(codec: .zstd, message: String(cString: ZSTD_getErrorName(n)))
                    }
                    return n
                case .lz4Raw:
                    let n = LZ4_decompress_safe(src.assumingMemoryBound(to: CChar.self),
                                                dst.baseAddress!.assumingMemoryBound(to: CChar.self),
                                                Int32(clamping: input.count), Int32(clamping: dst.count))
                    guard n >= 0 else { throw CompressionError(codec: .lz4Raw, message: "LZ4_decompress_safe returned \(n)") }
                    return Int(n)
                case .gzip:
                    var s = z_stream()
                    // 15 + 32: accept a gzip or zlib header.
                    var rc = inflateInit2_(&s, 15 + 32, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
                    guard rc == Z_OK else { throw CompressionError(codec: .gzip, message: "inflateInit2 returned \(rc)") }
                    defer { inflateEnd(&s) }
                    s.next_in = UnsafeMutablePointer(mutating: src.assumingMemoryBound(to: Bytef.self))
                    s.avail_in = uInt(input.count)
                    s.next_out = dst.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    s.avail_out = uInt(dst.count)
                    rc = inflate(&s, Z_FINISH)
                    guard rc == Z_STREAM_END else { throw CompressionError(codec: .gzip, message: "inflate returned \(rc)") }
                    return Int(s.total_out)
                case .lzo, .brotli, .lz4:
                    throw CompressionError(codec: codec, message: "codec not supported")
                }
            }
            guard produced == uncompressedSize else {
                throw CompressionError(codec: codec, message: "expected \(uncompressedSize) bytes, got \(produced)")
            }
            return out
        }
    }

    /// `decompress(_:codec:uncompressedSize:)` with this compressor's codec.
    public func decompress(_ input: [UInt8], uncompressedSize: Int) throws -> [UInt8] {
        try input.withUnsafeBytes { try Self.decompress($0, codec: compression.codec, uncompressedSize: uncompressedSize) }
    }
}
