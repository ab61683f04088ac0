import Foundation

/// A tiny scanner for the few S3 XML responses this client reads (ListObjectsV2,
/// InitiateMultipartUpload, CompleteMultipartUpload, ListMultipartUploads, Error).
///
/// S3 responses are flat, attribute-free and namespace-free where we look, so finding
/// `<Tag>…</Tag>` spans is enough; a full XML parser would add a dependency
/// (FoundationXML on Linux) for no gain.
struct S3XML {
    let text: Substring

    init(_ bytes: some Collection<UInt8>) {
        self.text = Substring(String(decoding: bytes, as: UTF8.self))
    }

    init(_ text: Substring) { self.text = text }

    /// The raw inner text of every `<tag>` element, in document order.
    func elements(_ tag: String) -> [S3XML] {
        var result: [S3XML] = []
        var rest = text[...]
        let open = "<\(tag)>", openWithAttrs = "<\(tag) ", close = "</\(tag)>"
        while true {
            guard let start = firstOpen(in: rest, open: open, openWithAttrs: openWithAttrs) else { break }
            guard let end = rest.range(of: close, range: start..<rest.endIndex) else { break }
            result.append(S3XML(rest[start..<end.lowerBound]))
            rest = rest[end.upperBound...]
        }
        return result
    }

    private func firstOpen(in s: Substring, open: String, openWithAttrs: String) -> Substring.Index? {
        var search = s[...]
        while let r = search.range(of: "<") {
            let tail = search[r.lowerBound...]
            if tail.hasPrefix(open) { return s.index(r.lowerBound, offsetBy: open.count) }
            if tail.hasPrefix(openWithAttrs), let gt = tail.range(of: ">") {
                // `<Tag/>` is an empty element: report it as empty content.
                if tail[..<gt.lowerBound].hasSuffix("/") { search = tail[gt.upperBound...]; continue }
                return gt.upperBound
            }
            search = tail[tail.index(after: tail.startIndex)...]
        }
        return nil
    }

    /// The decoded text of the first `<tag>` element.
    func value(_ tag: String) -> String? {
        elements(tag).first.map { Self.decodeEntities($0.text) }
    }

    /// Whether the document's root element is `tag` (ignoring the XML declaration).
    func hasRoot(_ tag: String) -> Bool {
        var s = text.drop { $0.isWhitespace }
        if s.hasPrefix("<?"), let end = s.range(of: "?>") { s = s[end.upperBound...].drop { $0.isWhitespace } }
        return s.hasPrefix("<\(tag)>") || s.hasPrefix("<\(tag) ")
    }

    static func decodeEntities(_ s: Substring) -> String {
        guard s.contains("&") else { return String(s) }
        var out = ""
        var i = s.startIndex
        while i < s.endIndex {
            let c = s[i]
            if c == "&", let semi = s[i...].firstIndex(of: ";") {
                let entity = s[s.index(after: i)..<semi]
                var decoded: String?
                switch entity {
                case "amp": decoded = "&"
                case "lt": decoded = "<"
                case "gt": decoded = ">"
                case "quot": decoded = "\""
                case "apos": decoded = "'"
                default:
                    if entity.hasPrefix("#x") || entity.hasPrefix("#X") {
                        decoded = UInt32(entity.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init).map { String($0) }
                    } else if entity.hasPrefix("#") {
                        decoded = UInt32(entity.dropFirst(1)).flatMap(Unicode.Scalar.init).map { String($0) }
                    }
                }
                if let decoded {
                    out += decoded
                    i = s.index(after: semi)
                    continue
                }
            }
            out.append(c)
            i = s.index(after: i)
        }
        return out
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(c)
            }
        }
        return out
    }

    /// Parses `2026-11-21T19:43:00.000Z` (the fraction is optional).
    static func parseTimestamp(_ s: String) -> Date? {
        let u = Array(s.utf8)
        guard u.count >= 19 else { return nil }
        func num(_ from: Int, _ len: Int) -> Int? {
            var v = 0
            for i in from..<(from + len) {
                guard u[i] >= 48, u[i] <= 57 else { return nil }
                v = v * 10 + Int(u[i] - 48)
            }
            return v
        }
        guard let y = num(0, 4), let mo = num(5, 2), let d = num(8, 2), let h = num(11, 2), let mi = num(14, 2),
              let sec = num(17, 2) else { return nil }
        var fraction = 0.0
        if u.count > 20, u[19] == UInt8(ascii: ".") {
            var scale = 0.1
            var i = 20
            while i < u.count, u[i] >= 48, u[i] <= 57 {
                fraction += Double(u[i] - 48) * scale
                scale /= 10
                i += 1
            }
        }
        var parts = tm()
        parts.tm_year = Int32(y - 1900)
        parts.tm_mon = Int32(mo - 1)
        parts.tm_mday = Int32(d)
        parts.tm_hour = Int32(h)
        parts.tm_min = Int32(mi)
        parts.tm_sec = Int32(sec)
        let t = timegm(&parts)
        return Date(timeIntervalSince1970: Double(t) + fraction)
    }
}
