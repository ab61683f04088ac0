import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// An S3-compatible bucket (AWS S3, Cloudflare R2, MinIO, SeaweedFS) reached over HTTP(S)
/// with SigV4-signed requests.
///
/// Every request carries the real SHA-256 of its body (never a streaming/chunked signature,
/// which R2 rejects) and is retried per `RetryPolicy`. Call `shutdown()` when done: the
/// store owns an HTTP connection pool.
public final class S3ObjectStore: ObjectStore {
    public let configuration: S3Configuration
    let endpoint: S3Endpoint
    let client: HTTPClient
    let budget: RetryBudget
    let retries = Atomic<Int>(0)

    public init(configuration: S3Configuration, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws {
        self.configuration = configuration
        self.endpoint = try S3Endpoint(configuration)
        self.budget = RetryBudget(capacity: configuration.retry.budgetCapacity)

        var http = HTTPClient.Configuration()
        http.redirectConfiguration = .disallow
        http.timeout = .init(connect: TimeAmount(configuration.connectTimeout), read: TimeAmount(configuration.readTimeout))
        http.connectionPool = .init(idleTimeout: .seconds(60),
                                    concurrentHTTP1ConnectionsPerHostSoftLimit: max(1, configuration.maxConnections))
        // The pool would otherwise retry failed connects silently until the request deadline;
        // connection failures go through RetryPolicy like every other transient failure.
        http.connectionPool.retryConnectionEstablishment = false
        http.decompression = .disabled
        if endpoint.scheme == "https" {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.certificateVerification = .fullVerification
            if let ca = configuration.caCertificateFile {
                guard FileManager.default.isReadableFile(atPath: ca) else {
                    throw ObjectStoreError(code: .invalidConfiguration, operation: "Configure", bucket: configuration.bucket,
                                           message: "CA certificate file not readable: \(ca)")
                }
                tls.additionalTrustRoots = [.file(ca)]
            }
            http.tlsConfiguration = tls
        }
        self.client = HTTPClient(eventLoopGroup: eventLoopGroup, configuration: http)
    }

    public var location: String { "s3://\(configuration.bucket)/\(configuration.prefix)" }

    /// Retries performed since the store was created (all operations).
    public var retryCount: Int { retries.load(ordering: .relaxed) }

    public func shutdown() async throws {
        try await client.shutdown()
    }

    deinit {
        // A store dropped without shutdown() must not leak its connection pool; the
        // pool keeps the client alive until it has closed. (After shutdown() this is a
        // no-op reporting `alreadyShutdown`.)
        client.shutdown { _ in }
    }

    // MARK: Operations

    @discardableResult
    public func put(key: String, body: ByteBuffer) async throws -> ObjectInfo {
        var call = S3Call(operation: "PutObject", method: .PUT, key: key, body: body)
        call.checksumsBody = true
        let response = try await send(call)
        return ObjectInfo(key: key, size: Int64(body.readableBytes), etag: response.etag)
    }

    @discardableResult
    public func putIfAbsent(key: String, body: ByteBuffer) async throws -> ObjectInfo {
        var call = S3Call(operation: "PutObject", method: .PUT, key: key, body: body)
        call.headers = [("If-None-Match", "*")]
        call.checksumsBody = true
        // 409 ConditionalRequestConflict: another create of the same key is in flight; the
        // retry then sees either success or 412.
        call.retryableStatuses = [409]
        do {
            let response = try await send(call)
            return ObjectInfo(key: key, size: Int64(body.readableBytes), etag: response.etag)
        } catch var error as ObjectStoreError where error.status == 412 {
            error.code = .alreadyExists
            error.message = "an object already exists at this key"
            throw error
        }
    }

    public func head(key: String) async throws -> ObjectInfo? {
        var call = S3Call(operation: "HeadObject", method: .HEAD, key: key)
        call.acceptedStatuses = [404]
        let response = try await send(call)
        if response.status == 404 { return nil }
        let size = response.headers.first(name: "content-length").flatMap { Int64($0) } ?? 0
        let modified = response.headers.first(name: "last-modified").flatMap(Self.parseHTTPDate)
        return ObjectInfo(key: key, size: size, etag: response.etag, lastModified: modified)
    }

    public func get(key: String) async throws -> ByteBuffer {
        var call = S3Call(operation: "GetObject", method: .GET, key: key)
        call.maxResponseBytes = Int.max
        return try await send(call).body
    }

    public func list(prefix: String, continuationToken: String?, maxKeys: Int) async throws -> ObjectListPage {
        var call = S3Call(operation: "ListObjectsV2", method: .GET, key: nil)
        call.query = [("list-type", "2"), ("prefix", configuration.prefix + prefix), ("max-keys", String(maxKeys))]
        if let continuationToken { call.query.append(("continuation-token", continuationToken)) }
        let response = try await send(call)
        let xml = S3XML(response.body.readableBytesView)
        let objects = xml.elements("Contents").map { item -> ObjectInfo in
            let fullKey = item.value("Key") ?? ""
            return ObjectInfo(key: String(fullKey.dropFirst(configuration.prefix.count)),
                              size: item.value("Size").flatMap { Int64($0) } ?? 0,
                              etag: item.value("ETag").map(Self.unquote),
                              lastModified: item.value("LastModified").flatMap(S3XML.parseTimestamp))
        }
        let truncated = xml.value("IsTruncated") == "true"
        let token = truncated ? xml.value("NextContinuationToken") : nil
        if truncated && token == nil {
            throw error(call, status: response.status, message: "truncated listing without NextContinuationToken")
        }
        return ObjectListPage(objects: objects, nextContinuationToken: token)
    }

    public func delete(key: String) async throws {
        var call = S3Call(operation: "DeleteObject", method: .DELETE, key: key)
        call.acceptedStatuses = [404]
        _ = try await send(call)
    }

    public func createMultipartUpload(key: String) async throws -> MultipartUpload {
        var call = S3Call(operation: "CreateMultipartUpload", method: .POST, key: key)
        call.query = [("uploads", "")]
        let response = try await send(call)
        guard let id = S3XML(response.body.readableBytesView).value("UploadId"), !id.isEmpty else {
            throw error(call, status: response.status, message: "no UploadId in the response")
        }
        return MultipartUpload(key: key, uploadID: id)
    }

    public func uploadPart(_ upload: MultipartUpload, partNumber: Int, body: ByteBuffer) async throws -> CompletedPart {
        var call = S3Call(operation: "UploadPart", method: .PUT, key: upload.key, body: body)
        call.query = [("partNumber", String(partNumber)), ("uploadId", upload.uploadID)]
        let response = try await send(call)
        guard let etag = response.etag else {
            throw error(call, status: response.status, message: "no ETag for part \(partNumber)")
        }
        return CompletedPart(partNumber: partNumber, etag: etag, size: body.readableBytes)
    }

    @discardableResult
    public func completeMultipartUpload(_ upload: MultipartUpload, parts: [CompletedPart]) async throws -> ObjectInfo {
        var xml = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        for part in parts.sorted(by: { $0.partNumber < $1.partNumber }) {
            xml += "<Part><PartNumber>\(part.partNumber)</PartNumber><ETag>\(S3XML.escape("\"\(part.etag)\""))</ETag></Part>"
        }
        xml += "</CompleteMultipartUpload>"
        var call = S3Call(operation: "CompleteMultipartUpload", method: .POST, key: upload.key, body: ByteBuffer(string: xml))
        call.query = [("uploadId", upload.uploadID)]
        call.headers = [("Content-Type", "application/xml")]
        call.errorIn200 = true
        let response = try await send(call)
        let etag = S3XML(response.body.readableBytesView).value("ETag").map(Self.unquote)
        return ObjectInfo(key: upload.key, size: Int64(parts.reduce(0) { $0 + $1.size }), etag: etag)
    }

    public func abortMultipartUpload(_ upload: MultipartUpload) async throws {
        var call = S3Call(operation: "AbortMultipartUpload", method: .DELETE, key: upload.key)
        call.query = [("uploadId", upload.uploadID)]
        call.acceptedStatuses = [404]  // NoSuchUpload: already gone
        _ = try await send(call)
    }

    /// Uploads in progress under `prefix` (first page only: used to check for leftovers).
    public func listMultipartUploads(prefix: String = "") async throws -> [MultipartUpload] {
        var call = S3Call(operation: "ListMultipartUploads", method: .GET, key: nil)
        call.query = [("uploads", ""), ("prefix", configuration.prefix + prefix)]
        let response = try await send(call)
        return S3XML(response.body.readableBytesView).elements("Upload").compactMap { u in
            guard let key = u.value("Key"), let id = u.value("UploadId") else { return nil }
            return MultipartUpload(key: String(key.dropFirst(configuration.prefix.count)), uploadID: id)
        }
    }

    /// Creates the store's bucket; an existing bucket owned by us is not an error.
    public func createBucket() async throws {
        var call = S3Call(operation: "CreateBucket", method: .PUT, key: nil)
        if configuration.region != "us-east-1" && configuration.region != "auto" {
            call.body = ByteBuffer(string: "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                                   + "<LocationConstraint>\(S3XML.escape(configuration.region))</LocationConstraint></CreateBucketConfiguration>")
        }
        call.acceptedStatuses = [409]
        let response = try await send(call)
        if response.status == 409, let code = S3XML(response.body.readableBytesView).value("Code"),
           code != "BucketAlreadyOwnedByYou" {
            throw error(call, status: 409, s3Code: code, message: "bucket name taken")
        }
    }

    /// Deletes the (empty) bucket.
    public func deleteBucket() async throws {
        _ = try await send(S3Call(operation: "DeleteBucket", method: .DELETE, key: nil))
    }

    public func makeWriter(key: String, options: ObjectWriterOptions) -> any ObjectWriter {
        MultipartObjectWriter(store: self, key: key, options: options)
    }

    /// A presigned GET URL valid for `expires` seconds.
    public func presignedGetURL(key: String, expires: Int = 3600, date: Date = Date()) async throws -> String {
        let credentials = try await configuration.credentialProvider.credentials()
        let path = endpoint.bucketPath + "/" + configuration.prefix + key
        let (amzDate, dateStamp) = SigV4.timestamps(date)
        let request = SigV4.Request(method: "GET", path: path, headers: [("host", endpoint.hostHeader)],
                                    payloadHash: SigV4.unsignedPayload)
        let query = SigV4.presignedQuery(request, credentials: credentials, amzDate: amzDate,
                                         scope: SigV4.Scope(dateStamp: dateStamp, region: configuration.region, service: "s3"),
                                         expires: expires)
        return endpoint.origin + SigV4.uriEncode(path, encodeSlash: false) + "?" + SigV4.canonicalQuery(query)
    }

    // MARK: Helpers

    static func unquote(_ s: String) -> String {
        var t = Substring(s)
        if t.hasPrefix("\"") { t = t.dropFirst() }
        if t.hasSuffix("\"") { t = t.dropLast() }
        return String(t)
    }

    static func parseHTTPDate(_ s: String) -> Date? {
        // RFC 7231 IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
        let parts = s.split(separator: " ")
        guard parts.count == 6 else { return nil }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard let month = months.firstIndex(of: String(parts[2])), let day = Int(parts[1]), let year = Int(parts[3]) else { return nil }
        let hms = parts[4].split(separator: ":").compactMap { Int($0) }
        guard hms.count == 3 else { return nil }
        func pad(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return S3XML.parseTimestamp("\(year)-\(pad(month + 1))-\(pad(day))T\(pad(hms[0])):\(pad(hms[1])):\(pad(hms[2]))Z")
    }
}
