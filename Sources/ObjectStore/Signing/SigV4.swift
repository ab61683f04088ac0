import Crypto
import Foundation

/// AWS Signature Version 4 as S3 applies it, as pure functions of their inputs.
///
/// S3 differs from the other services in one way that matters here: the canonical URI is
/// percent-encoded once, from the raw key, and never normalized (`a/../b` and `//` are
/// signed as written). Keys such as `year=2026/a b+c.parquet` are therefore signed as
/// `year%3D2026/a%20b%2Bc.parquet`, and the same encoded form is what goes on the wire,
/// so the server's canonical request matches ours byte for byte.
public enum SigV4 {
    public static let algorithm = "AWS4-HMAC-SHA256"
    /// SHA-256 of the empty string, the payload hash of every request without a body.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"

    /// One request to sign: the path and query are given decoded; they are encoded here.
    public struct Request: Sendable {
        public var method: String
        /// The decoded path starting with `/` (for path-style S3: `/bucket/key`).
        public var path: String
        /// Decoded query parameters, in any order.
        public var query: [(name: String, value: String)]
        /// Headers to sign, `host` included; repeated names are joined in order.
        public var headers: [(name: String, value: String)]
        /// Hex SHA-256 of the body (or `UNSIGNED-PAYLOAD` for presigned URLs).
        public var payloadHash: String

        public init(method: String, path: String, query: [(name: String, value: String)] = [],
                    headers: [(name: String, value: String)], payloadHash: String) {
            self.method = method
            self.path = path
            self.query = query
            self.headers = headers
            self.payloadHash = payloadHash
        }
    }

    /// Where and when a signature applies.
    public struct Scope: Sendable, Equatable {
        public var dateStamp: String  // yyyyMMdd
        public var region: String
        public var service: String
        public var string: String { "\(dateStamp)/\(region)/\(service)/aws4_request" }

        public init(dateStamp: String, region: String, service: String) {
            self.dateStamp = dateStamp
            self.region = region
            self.service = service
        }
    }

    // MARK: Encoding

    /// Percent-encodes every byte except `A-Z a-z 0-9 - _ . ~` (and `/` unless `encodeSlash`).
    public static func uriEncode(_ string: String, encodeSlash: Bool) -> String {
        var out = [UInt8]()
        out.reserveCapacity(string.utf8.count)
        for byte in string.utf8 {
            if isUnreserved(byte) || (byte == UInt8(ascii: "/") && !encodeSlash) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hexUpper[Int(byte >> 4)])
                out.append(hexUpper[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The canonical query string: names and values encoded, sorted by encoded name then value.
    public static func canonicalQuery(_ query: [(name: String, value: String)]) -> String {
        var encoded: [(name: String, value: String)] = []
        encoded.reserveCapacity(query.count)
        for item in query {
            encoded.append((uriEncode(item.name, encodeSlash: true), uriEncode(item.value, encodeSlash: true)))
        }
        // Encoded strings are ASCII, so String ordering is byte ordering.
        encoded.sort { a, b in a.name == b.name ? a.value < b.value : a.name < b.name }
        var out = ""
        for (i, item) in encoded.enumerated() {
            if i > 0 { out += "&" }
            out += item.name + "=" + item.value
        }
        return out
    }

    /// Canonical headers (lower-cased names, trimmed values with inner runs of spaces
    /// collapsed, repeated names joined by commas in order) and the signed header list.
    public static func canonicalHeaders(_ headers: [(name: String, value: String)]) -> (block: String, signed: String) {
        var order: [String] = []
        var values: [String: [String]] = [:]
        for (name, value) in headers {
            let key = name.lowercased()
            if values[key] == nil { order.append(key) }
            values[key, default: []].append(normalizeHeaderValue(value))
        }
        let names = order.sorted()
        let block = names.map { "\($0):\(values[$0]!.joined(separator: ","))\n" }.joined()
        return (block, names.joined(separator: ";"))
    }

    static func normalizeHeaderValue(_ value: String) -> String {
        var out = [UInt8]()
        out.reserveCapacity(value.utf8.count)
        var pendingSpace = false
        for byte in value.utf8 {
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.append(UInt8(ascii: " ")) }
                pendingSpace = false
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: Signing

    /// The canonical request and its signed header list.
    public static func canonicalRequest(_ request: Request) -> (canonical: String, signedHeaders: String) {
        let headers = canonicalHeaders(request.headers)
        let canonical = [
            request.method,
            uriEncode(request.path, encodeSlash: false),
            canonicalQuery(request.query),
            headers.block,
            headers.signed,
            request.payloadHash,
        ].joined(separator: "\n")
        return (canonical, headers.signed)
    }

    public static func stringToSign(canonicalRequest: String, amzDate: String, scope: Scope) -> String {
        "\(algorithm)\n\(amzDate)\n\(scope.string)\n\(sha256Hex(Array(canonicalRequest.utf8)))"
    }

    /// `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
    public static func signingKey(secret: String, scope: Scope) -> SymmetricKey {
        var key = SymmetricKey(data: Array(("AWS4" + secret).utf8))
        for part in [scope.dateStamp, scope.region, scope.service, "aws4_request"] {
            key = SymmetricKey(data: HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key))
        }
        return key
    }

    public static func signature(stringToSign: String, key: SymmetricKey) -> String {
        hex(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: key))
    }

    /// The `Authorization` header value for a request whose headers already include
    /// `host`, `x-amz-date` and (for S3) `x-amz-content-sha256` and the session token.
    public static func authorization(_ request: Request, credentials: S3Credentials, amzDate: String, scope: Scope) -> String {
        let (canonical, signedHeaders) = canonicalRequest(request)
        let toSign = stringToSign(canonicalRequest: canonical, amzDate: amzDate, scope: scope)
        let sig = signature(stringToSign: toSign, key: signingKey(secret: credentials.secretAccessKey, scope: scope))
        return "\(algorithm) Credential=\(credentials.accessKeyID)/\(scope.string), SignedHeaders=\(signedHeaders), Signature=\(sig)"
    }

    /// Query parameters of a presigned URL (the request's own query first, signature last).
    /// Only `host` and the request's other headers are signed; the payload is unsigned.
    public static func presignedQuery(_ request: Request, credentials: S3Credentials, amzDate: String, scope: Scope,
                                      expires: Int) -> [(name: String, value: String)] {
        var request = request
        request.payloadHash = unsignedPayload
        let signedHeaders = canonicalHeaders(request.headers).signed
        var query = request.query
        query.append(("X-Amz-Algorithm", algorithm))
        query.append(("X-Amz-Credential", "\(credentials.accessKeyID)/\(scope.string)"))
        query.append(("X-Amz-Date", amzDate))
        query.append(("X-Amz-Expires", String(expires)))
        if let token = credentials.sessionToken { query.append(("X-Amz-Security-Token", token)) }
        query.append(("X-Amz-SignedHeaders", signedHeaders))
        request.query = query
        let (canonical, _) = canonicalRequest(request)
        let toSign = stringToSign(canonicalRequest: canonical, amzDate: amzDate, scope: scope)
        query.append(("X-Amz-Signature", signature(stringToSign: toSign, key: signingKey(secret: credentials.secretAccessKey, scope: scope))))
        return query
    }

    // MARK: Time and hashes

    /// `yyyyMMdd'T'HHmmss'Z'` and `yyyyMMdd` in UTC, without a DateFormatter (not thread-safe
    /// to share, and slow to create per request).
    public static func timestamps(_ date: Date) -> (amzDate: String, dateStamp: String) {
        var t = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        let day = pad(parts.tm_year + 1900, 4) + pad(parts.tm_mon + 1, 2) + pad(parts.tm_mday, 2)
        return (day + "T" + pad(parts.tm_hour, 2) + pad(parts.tm_min, 2) + pad(parts.tm_sec, 2) + "Z", day)
    }

    public static func sha256Hex<Bytes: DataProtocol>(_ bytes: Bytes) -> String {
        hex(SHA256.hash(data: bytes))
    }

    static func hex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var out = [UInt8]()
        out.reserveCapacity(64)
        for b in bytes {
            out.append(hexLower[Int(b >> 4)])
            out.append(hexLower[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static let hexUpper = Array("0123456789ABCDEF".utf8)
    private static let hexLower = Array("0123456789abcdef".utf8)

    @inline(__always)
    static func isUnreserved(_ b: UInt8) -> Bool {
        (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39)
            || b == UInt8(ascii: "-") || b == UInt8(ascii: "_") || b == UInt8(ascii: ".") || b == UInt8(ascii: "~")
    }
}
