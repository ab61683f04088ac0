import Foundation
import Testing
@testable import ObjectStore

@Suite("SigV4 signer")
struct SigV4Tests {
    // The Amazon S3 examples: AKIAIOSFODNN7EXAMPLE, 24 May 2013, examplebucket, us-east-1.
    static let s3Credentials = S3Credentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE",
                                             secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    static let s3Scope = SigV4.Scope(dateStamp: "20130524", region: "us-east-1", service: "s3")
    static let s3Date = "20130524T000000Z"
    static let host = "examplebucket.s3.amazonaws.com"

    func s3Authorization(method: String, path: String, query: [(name: String, value: String)] = [],
                         extra: [(name: String, value: String)] = [], payloadHash: String) -> String {
        let headers = [("Host", Self.host)] + extra
            + [("x-amz-content-sha256", payloadHash), ("x-amz-date", Self.s3Date)]
        return SigV4.authorization(SigV4.Request(method: method, path: path, query: query, headers: headers, payloadHash: payloadHash),
                                   credentials: Self.s3Credentials, amzDate: Self.s3Date, scope: Self.s3Scope)
    }

    @Test func getObjectWithRange() {
        let auth = s3Authorization(method: "GET", path: "/test.txt", extra: [("Range", "bytes=0-9")],
                                   payloadHash: SigV4.emptyPayloadHash)
        #expect(auth == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    @Test func putObjectWithDollarInKey() {
        let body = Array("Welcome to Amazon S3.".utf8)
        let hash = SigV4.sha256Hex(body)
        #expect(hash == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        let auth = s3Authorization(method: "PUT", path: "/test$file.text",
                                   extra: [("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-storage-class", "REDUCED_REDUNDANCY")],
                                   payloadHash: hash)
        #expect(auth.hasSuffix("SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, "
            + "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"))
        let canonical = SigV4.canonicalRequest(SigV4.Request(method: "PUT", path: "/test$file.text", headers: [("host", Self.host)],
                                                             payloadHash: hash)).canonical
        #expect(canonical.split(separator: "\n")[1] == "/test%24file.text")
    }

    @Test func getBucketLifecycle() {
        let auth = s3Authorization(method: "GET", path: "/", query: [("lifecycle", "")], payloadHash: SigV4.emptyPayloadHash)
        #expect(auth.hasSuffix("Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"))
    }

    @Test func listObjectsWithQuery() {
        let auth = s3Authorization(method: "GET", path: "/", query: [("prefix", "J"), ("max-keys", "2")],
                                   payloadHash: SigV4.emptyPayloadHash)
        #expect(auth.hasSuffix("Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"))
    }

    @Test func presignedGet() {
        let request = SigV4.Request(method: "GET", path: "/test.txt", headers: [("host", Self.host)], payloadHash: SigV4.unsignedPayload)
        let query = SigV4.presignedQuery(request, credentials: Self.s3Credentials, amzDate: Self.s3Date, scope: Self.s3Scope,
                                         expires: 86400)
        #expect(query.last?.name == "X-Amz-Signature")
        #expect(query.last?.value == "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
        #expect(SigV4.canonicalQuery(query).contains("X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"))
    }

    @Test func s3KeysAreEncodedOnceAndNotNormalized() {
        #expect(SigV4.uriEncode("/bucket/year=2026/a b+c~d_e-f.g", encodeSlash: false)
            == "/bucket/year%3D2026/a%20b%2Bc~d_e-f.g")
        #expect(SigV4.uriEncode("/日本/ключ", encodeSlash: false) == "/%E6%97%A5%E6%9C%AC/%D0%BA%D0%BB%D1%8E%D1%87")
        #expect(SigV4.uriEncode("a/b%20", encodeSlash: true) == "a%2Fb%2520")
        #expect(SigV4.uriEncode("//a/../b/./", encodeSlash: false) == "//a/../b/./")
    }

    @Test func queryIsSortedByEncodedName() {
        #expect(SigV4.canonicalQuery([("prefix", "a b"), ("list-type", "2"), ("continuation-token", "x=/+")])
            == "continuation-token=x%3D%2F%2B&list-type=2&prefix=a%20b")
    }

    @Test func headerValuesAreTrimmedAndCollapsed() {
        let (block, signed) = SigV4.canonicalHeaders([("Host", "127.0.0.1:8333"), ("X-Amz-Meta-A", "  a   b \t c  ")])
        #expect(block == "host:127.0.0.1:8333\nx-amz-meta-a:a b c\n")
        #expect(signed == "host;x-amz-meta-a")
    }

    @Test func timestampsAreUTC() {
        let (amzDate, day) = SigV4.timestamps(Date(timeIntervalSince1970: 1_369_353_600))  // 2013-05-24T00:00:00Z
        #expect(amzDate == "20130524T000000Z")
        #expect(day == "20130524")
    }

    @Test func credentialsNeverPrintSecrets() {
        let c = S3Credentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG", sessionToken: "tok-123")
        for text in [c.description, "\(c)", String(reflecting: c),
                     S3Configuration(bucket: "b", endpoint: "http://127.0.0.1:1", credentials: c).description] {
            #expect(!text.contains("wJalrXUtnFEMI"))
            #expect(!text.contains("tok-123"))
            #expect(!text.contains("AKIAIOSFODNN7EXAMPLE"))
        }
        #expect(S3Credentials.fromEnvironment(["AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "t"])
            == S3Credentials(accessKeyID: "k", secretAccessKey: "s", sessionToken: "t"))
        #expect(S3Credentials.fromEnvironment(["AWS_ACCESS_KEY_ID": "k"]) == nil)
    }

    // MARK: aws-c-auth suite

    static let vectorDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Vectors/aws-c-auth")

    static var vectorNames: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: vectorDirectory.path)) ?? [])
            .filter { $0.hasSuffix(".txt") }.map { String($0.dropLast(4)) }.sorted()
    }

    @Test func allVectorsPresent() {
        #expect(Self.vectorNames.count >= 20)
    }

    @Test(arguments: SigV4Tests.vectorNames)
    func awsCAuthVector(_ name: String) throws {
        let text = try String(contentsOf: Self.vectorDirectory.appendingPathComponent(name + ".txt"), encoding: .utf8)
        let (head, body) = text.range(of: "\n\n").map { (String(text[..<$0.lowerBound]), String(text[$0.upperBound...])) } ?? (text, "")
        var lines = head.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let requestLine = lines.removeFirst()
        // "METHOD target HTTP/1.1", where the target may contain spaces.
        let method = String(requestLine.prefix { $0 != " " })
        let target = String(requestLine.dropFirst(method.count + 1).dropLast(" HTTP/1.1".count))
        var expected = ""
        var headers: [(name: String, value: String)] = []
        for line in lines {
            let colon = line.firstIndex(of: ":")!
            let name = String(line[..<colon]), value = String(line[line.index(after: colon)...])
            switch name.lowercased() {
            case "authorization": expected = value
            case "x-amz-date", "x-amz-security-token": break
            default: headers.append((name, value))
            }
        }
        let signedList = expected.components(separatedBy: "SignedHeaders=")[1].prefix { $0 != "," }.split(separator: ";")
        // Older revisions of the suite added an unsigned x-amz-content-sha256 header.
        headers.removeAll { $0.name.lowercased() == "x-amz-content-sha256" && !signedList.contains("x-amz-content-sha256") }
        let token = name == "get-vanilla-with-session-token"
            ? "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267" : nil
        headers.append(("X-Amz-Date", "20150830T123600Z"))
        if let token { headers.append(("X-Amz-Security-Token", token)) }

        let pathPart = String(target.prefix { $0 != "?" })
        let queryPart = target.contains("?") ? String(target.drop { $0 != "?" }.dropFirst()) : ""
        let query: [(name: String, value: String)] = queryPart.split(separator: "&").map { pair in
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (String(kv[0]).removingPercentEncoding!, kv.count > 1 ? String(kv[1]).removingPercentEncoding! : "")
        }
        let credentials = S3Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                        sessionToken: token)
        let auth = SigV4.authorization(
            SigV4.Request(method: method, path: pathPart, query: query, headers: headers,
                          payloadHash: SigV4.sha256Hex(Array(body.utf8))),
            credentials: credentials, amzDate: "20150830T123600Z",
            scope: SigV4.Scope(dateStamp: "20150830", region: "us-east-1", service: "service"))
        #expect(auth == expected, "\(name)")
    }
}
