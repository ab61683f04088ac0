/// `dsn` with its password replaced by `****`, for logs and error messages.
///
/// Handles both libpq forms: key/value conninfo (`host=h password=secret`,
/// `password = 'it''s \' quoted'`) and URIs (`postgresql://user:secret@host/db`,
/// `postgres://…?password=secret`). The whole password is masked, never a prefix of it.
/// Anything that cannot be parsed with certainty is masked from the first doubt on.
package func maskedDSN(_ dsn: String) -> String {
    let bytes = Array(dsn.utf8)
    for scheme in ["postgresql://", "postgres://"] where dsn.hasPrefix(scheme) {
        return maskURI(bytes, schemeLength: scheme.utf8.count)
    }
    return maskConninfo(bytes)
}

private let mask: [UInt8] = Array("****".utf8)

private func maskURI(_ b: [UInt8], schemeLength: Int) -> String {
    var out = Array(b[0..<schemeLength])
    // The authority ends at the query; userinfo ends at its last '@' (a password may hold '/',
    // '@' or ':' unescaped; libpq would misread it, but it must not leak here).
    let query = b[schemeLength...].firstIndex(of: UInt8(ascii: "?")) ?? b.count
    var rest = schemeLength
    if let at = b[schemeLength..<query].lastIndex(of: UInt8(ascii: "@")) {
        let userinfo = b[schemeLength..<at]
        if let colon = userinfo.firstIndex(of: UInt8(ascii: ":")) {
            out.append(contentsOf: b[schemeLength...colon])
            out.append(contentsOf: mask)
        } else {
            out.append(contentsOf: userinfo)
        }
        rest = at
    }
    out.append(contentsOf: b[rest..<query])
    if query < b.count {
        // Query parameters: mask the value of every password=… (name compared case-insensitively).
        var i = query
        while i < b.count {
            let end = b[(i + 1)...].firstIndex(of: UInt8(ascii: "&")) ?? b.count
            let param = b[(i + 1)..<end]
            out.append(b[i])
            if let eq = param.firstIndex(of: UInt8(ascii: "=")),
               String(decoding: b[(i + 1)..<eq], as: UTF8.self).lowercased() == "password" {
                out.append(contentsOf: b[(i + 1)...eq])
                out.append(contentsOf: mask)
            } else {
                out.append(contentsOf: param)
            }
            i = end
        }
    }
    return String(decoding: out, as: UTF8.self)
}

private func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == 0x0B || c == 0x0C }

private func maskConninfo(_ b: [UInt8]) -> String {
    var out: [UInt8] = []
    out.reserveCapacity(b.count)
    var i = 0
    let n = b.count
    while i < n {
        // Whitespace between pairs.
        while i < n && isSpace(b[i]) { out.append(b[i]); i += 1 }
        if i >= n { break }
        // Keyword.
        let keyStart = i
        while i < n && b[i] != UInt8(ascii: "=") && !isSpace(b[i]) { i += 1 }
        let key = String(decoding: b[keyStart..<i], as: UTF8.self)
        out.append(contentsOf: b[keyStart..<i])
        while i < n && isSpace(b[i]) { out.append(b[i]); i += 1 }
        guard i < n && b[i] == UInt8(ascii: "=") else {
            // Not key=value: libpq rejects it; mask the rest rather than guess.
            if i < n { out.append(contentsOf: mask) }
            break
        }
        out.append(b[i]); i += 1
        while i < n && isSpace(b[i]) { out.append(b[i]); i += 1 }
        // Value: quoted ('…' with \' and \\ escapes) or up to whitespace (with \ escapes).
        let valueStart = i
        if i < n && b[i] == UInt8(ascii: "'") {
            i += 1
            while i < n && b[i] != UInt8(ascii: "'") {
                if b[i] == UInt8(ascii: "\\") { i += 1 }
                i += 1
            }
            i = min(i + 1, n)
        } else {
            while i < n && !isSpace(b[i]) {
                if b[i] == UInt8(ascii: "\\") { i += 1 }
                i += 1
            }
            i = min(i, n)
        }
        if key.lowercased() == "password" {
            out.append(contentsOf: mask)
        } else {
            out.append(contentsOf: b[valueStart..<i])
        }
        // Text glued to a closing quote ('it''s' is not libpq's escape): mask the rest, don't guess.
        if i < n && !isSpace(b[i]) {
            if key.lowercased() != "password" { out.append(contentsOf: mask) }
            break
        }
    }
    return String(decoding: out, as: UTF8.self)
}
