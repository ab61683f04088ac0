import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// The HTTP calls of the temporary-credential sources: STS AssumeRoleWithWebIdentity, the
/// container credentials endpoint and EC2 instance metadata (IMDSv2).
///
/// One process-wide client (never shut down, like `HTTPClient.shared`) without redirects; every
/// answer is bounded to `maxAnswerBytes` and every call to a deadline.
enum CredentialFetch {
    static let maxAnswerBytes = 64 << 10
    /// Token files (web identity, container authorization) are read up to this size.
    static let maxTokenFileBytes = 64 << 10

    static let client: HTTPClient = {
        var c = HTTPClient.Configuration()
        c.redirectConfiguration = .disallow
        c.timeout = .init(connect: .seconds(2), read: .seconds(10))
        c.connectionPool.retryConnectionEstablishment = false
        c.decompression = .disabled
        c.tlsConfiguration = TLSConfiguration.makeClientConfiguration()
        return HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: c)
    }()

    static func failure(_ source: String, _ message: String) -> ObjectStoreError {
        ObjectStoreError(code: .accessDenied, operation: "GetCredentials", message: "\(source): \(message)")
    }

    /// Sends `request`; the status and the (bounded) body as text.
    static func send(_ request: HTTPClientRequest, timeout: Duration, source: String) async throws -> (status: Int, body: String) {
        do {
            let response = try await client.execute(request, deadline: .now() + TimeAmount(timeout), logger: nil)
            let body = try await response.body.collect(upTo: maxAnswerBytes)
            return (Int(response.status.code), String(buffer: body))
        } catch let error as NIOTooManyBytesError {
            _ = error
            throw failure(source, "answer larger than \(maxAnswerBytes) bytes from \(request.url)")
        } catch let error as HTTPClientError where error == .cancelled {
            throw CancellationError()
        } catch is CancellationError {
            throw CancellationError()
        } catch let error as ObjectStoreError {
            throw error
        } catch {
            throw failure(source, "\(request.url) did not answer: \(error)")
        }
    }

    /// A small file's text, trimmed (a token file: Kubernetes rotates it, so it is read on each fetch).
    static func readTokenFile(_ path: String, source: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw failure(source, "cannot read the token file \(path)")
        }
        defer { try? handle.close() }
        let data = (try? handle.read(upToCount: maxTokenFileBytes + 1)) ?? Data()
        guard data.count <= maxTokenFileBytes else {
            throw failure(source, "token file \(path) is larger than \(maxTokenFileBytes) bytes")
        }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else { throw failure(source, "token file \(path) is empty") }
        return token
    }

    static func parseExpiration(_ text: String?, source: String) throws -> Date? {
        guard let text, !text.isEmpty else { return nil }
        guard let date = S3XML.parseTimestamp(text) else { throw failure(source, "unreadable Expiration '\(text.prefix(40))'") }
        return date
    }

    // MARK: STS AssumeRoleWithWebIdentity

    /// An unsigned `AssumeRoleWithWebIdentity` POST (the token is the proof), answered in XML.
    static func webIdentity(tokenFile: String, roleARN: String, sessionName: String, endpoint: String,
                            source: String) async throws -> S3Credentials {
        let token = try readTokenFile(tokenFile, source: source)
        func form(_ s: String) -> String { SigV4.uriEncode(s, encodeSlash: true) }
        let body = "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=\(form(roleARN))"
            + "&RoleSessionName=\(form(sessionName))&WebIdentityToken=\(form(token))"
        var request = HTTPClientRequest(url: endpoint.hasSuffix("/") ? endpoint : endpoint + "/")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded; charset=utf-8")
        request.headers.add(name: "Accept", value: "application/xml")
        request.body = .bytes(ByteBuffer(string: body))
        let (status, text) = try await send(request, timeout: .seconds(10), source: source)
        let xml = S3XML(Substring(text))
        guard status == 200 else {
            let code = xml.value("Code") ?? "HTTP \(status)"
            let message = xml.value("Message").map { ": \($0.prefix(300))" } ?? ""
            throw failure(source, "STS \(endpoint) refused AssumeRoleWithWebIdentity for \(roleARN): \(code)\(message)")
        }
        guard let creds = xml.elements("Credentials").first, let key = creds.value("AccessKeyId"), !key.isEmpty,
              let secret = creds.value("SecretAccessKey"), !secret.isEmpty else {
            throw failure(source, "STS answer without Credentials/AccessKeyId/SecretAccessKey")
        }
        return S3Credentials(accessKeyID: key, secretAccessKey: secret,
                             sessionToken: creds.value("SessionToken").flatMap { $0.isEmpty ? nil : $0 },
                             expiration: try parseExpiration(creds.value("Expiration"), source: source))
    }

    // MARK: Container credentials (ECS, EKS Pod Identity)

    static func container(url: String, authorizationToken: String?, authorizationTokenFile: String?,
                          source: String) async throws -> S3Credentials {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        request.headers.add(name: "Accept", value: "application/json")
        if let file = authorizationTokenFile {
            request.headers.add(name: "Authorization", value: try readTokenFile(file, source: source))
        } else if let token = authorizationToken {
            request.headers.add(name: "Authorization", value: token)
        }
        let (status, text) = try await send(request, timeout: .seconds(5), source: source)
        guard status == 200 else {
            throw failure(source, "\(url) answered HTTP \(status): \(text.prefix(200))")
        }
        return try credentialsJSON(text, source: source)
    }

    /// `{"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}` of the container and IMDS answers.
    static func credentialsJSON(_ text: String, source: String) throws -> S3Credentials {
        let fields: [String: String]
        do { fields = try CredentialJSON.strings(Array(text.utf8)) } catch {
            throw failure(source, "unreadable credentials answer: \(error)")
        }
        if let code = fields["Code"], code != "Success" {
            throw failure(source, "credentials answer with Code \(code): \(fields["Message"]?.prefix(200) ?? "")")
        }
        guard let key = fields["AccessKeyId"], !key.isEmpty, let secret = fields["SecretAccessKey"], !secret.isEmpty else {
            throw failure(source, "credentials answer without AccessKeyId and SecretAccessKey")
        }
        return S3Credentials(accessKeyID: key, secretAccessKey: secret,
                             sessionToken: fields["Token"].flatMap { $0.isEmpty ? nil : $0 },
                             expiration: try parseExpiration(fields["Expiration"], source: source))
    }

    // MARK: EC2 instance metadata (IMDSv2)

    static let metadataTokenTTL = 21600

    static func instanceMetadata(endpoint: String, timeout: Duration, source: String) async throws -> S3Credentials {
        let base = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        var tokenRequest = HTTPClientRequest(url: base + "/latest/api/token")
        tokenRequest.method = .PUT
        tokenRequest.headers.add(name: "X-aws-ec2-metadata-token-ttl-seconds", value: String(metadataTokenTTL))
        let (tokenStatus, token) = try await send(tokenRequest, timeout: timeout, source: source)
        guard tokenStatus == 200, !token.isEmpty else {
            throw failure(source, "PUT \(base)/latest/api/token answered HTTP \(tokenStatus) (IMDSv2 session token)")
        }
        func get(_ path: String) async throws -> String {
            var request = HTTPClientRequest(url: base + path)
            request.method = .GET
            request.headers.add(name: "X-aws-ec2-metadata-token", value: token)
            let (status, text) = try await send(request, timeout: timeout, source: source)
            guard status == 200 else {
                throw failure(source, "GET \(base)\(path) answered HTTP \(status)"
                              + (status == 404 ? " (no instance profile attached to this instance?)" : ""))
            }
            return text
        }
        let listing = try await get("/latest/meta-data/iam/security-credentials/")
        guard let role = listing.split(whereSeparator: \.isNewline).first.map({ $0.trimmingCharacters(in: .whitespaces) }),
              !role.isEmpty, !role.contains("/") else {
            throw failure(source, "no IAM role in \(base)/latest/meta-data/iam/security-credentials/")
        }
        let answer = try await get("/latest/meta-data/iam/security-credentials/" + SigV4.uriEncode(role, encodeSlash: true))
        return try credentialsJSON(answer, source: source)
    }
}
