/// The RLE / bit-packed hybrid encoding (levels and dictionary indices).
///
/// Runs of at least 8 equal values become RLE runs (`varint(count << 1)` + the
/// value in ceil(width/8) bytes); everything else is bit-packed in groups of 8
/// (`varint(groups << 1 | 1)` + width bytes per group, LSB first). Only the final
/// bit-packed run is padded, so decoders that trust the value count read it back.
enum RLEEncoder {
    static func encode<T: FixedWidthInteger & UnsignedInteger>(
        _ values: UnsafeBufferPointer<T>, bitWidth width: Int, into out: inout [UInt8]
    ) {
        let n = values.count
        guard n > 0 else { return }
        out.reserveAdditional(n * width / 8 + 16)
        var literalStart = 0
        var literalCount = 0
        var i = 0
        while i < n {
            let v = values[i]
            var j = i + 1
            while j < n && values[j] == v { j += 1 }
            var run = j - i
            if run >= 8 {
                if literalCount % 8 != 0 {
                    // Complete the pending bit-packed group with values of this run.
                    let k = 8 - literalCount % 8
                    literalCount += k
                    i += k
                    run -= k
                    if run < 8 {
                        literalCount += run
                        i = j
                        continue
                    }
                }
                if literalCount > 0 {
                    bitPack(values, start: literalStart, count: literalCount, width: width, into: &out)
                    literalCount = 0
                }
                out.appendVarint(UInt64(run) << 1)
                var x = UInt64(v)
                for _ in 0..<((width + 7) / 8) {
                    out.append(UInt8(truncatingIfNeeded: x))
                    x >>= 8
                }
                i = j
                literalStart = i
            } else {
                if literalCount == 0 { literalStart = i }
                literalCount += run
                i = j
            }
        }
        if literalCount > 0 {
            bitPack(values, start: literalStart, count: literalCount, width: width, into: &out)
        }
    }

    private static func bitPack<T: FixedWidthInteger & UnsignedInteger>(
        _ values: UnsafeBufferPointer<T>, start: Int, count: Int, width: Int, into out: inout [UInt8]
    ) {
        let groups = (count + 7) / 8
        out.appendVarint(UInt64(groups) << 1 | 1)
        if width == 0 { return }
        let byteCount = groups * width
        let base = out.count
        out.append(contentsOf: repeatElement(0, count: byteCount))
        out.withUnsafeMutableBufferPointer { buf in
            // 64 bits are gathered and stored at once; only whole gathered words are stored, so
            // no store passes the group bytes reserved above.
            let dst = UnsafeMutableRawPointer(buf.baseAddress! + base)
            var acc: UInt64 = 0
            var bits = 0
            var o = 0
            let mask: UInt64 = width >= 64 ? ~0 : (1 << UInt64(width)) - 1
            let w = UInt64(width)
            @inline(__always) func put(_ v: UInt64) {
                acc |= v << UInt64(bits)
                bits += width
                if bits >= 64 {
                    dst.storeBytes(of: acc.littleEndian, toByteOffset: o, as: UInt64.self)
                    o += 8
                    bits -= 64
                    acc = bits > 0 ? v >> (w - UInt64(bits)) : 0
                }
            }
            var idx = start
            let end = start + count
            while idx < end {
                put(UInt64(values[idx]) & mask)
                idx += 1
            }
            // Padding of the last group: zeros.
            for _ in count..<(groups * 8) { put(0) }
            while bits > 0 {
                dst.storeBytes(of: UInt8(truncatingIfNeeded: acc), toByteOffset: o, as: UInt8.self)
                o += 1
                acc >>= 8
                bits -= 8
            }
        }
    }
}
