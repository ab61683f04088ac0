import LakeModel

extension JSONText {
    /// Appends `bytes` as a JSON string literal (escaping quotes, backslashes, control bytes).
    package static func appendQuoted(_ bytes: UnsafeRawBufferPointer, to out: ScratchBuffer) {
        out.append(byte: 0x22)
        let hex: StaticString = "0123456789abcdef"
        for b in bytes {
            switch b {
            case 0x22: out.append(byte: 0x5C); out.append(byte: 0x22)
            case 0x5C: out.append(byte: 0x5C); out.append(byte: 0x5C)
            case 0x0A: out.append(byte: 0x5C); out.append(byte: UInt8(ascii: "n"))
            case 0x0D: out.append(byte: 0x5C); out.append(byte: UInt8(ascii: "r"))
            case 0x09: out.append(byte: 0x5C); out.append(byte: UInt8(ascii: "t"))
            case 0..<0x20:
                out.append("\\u00")
                out.append(byte: hex.utf8Start[Int(b >> 4)])
                out.append(byte: hex.utf8Start[Int(b & 15)])
            default: out.append(byte: b)
            }
        }
        out.append(byte: 0x22)
    }
}
