import Foundation
import Testing
@testable import ObjectStore

@Suite("Endpoints and configuration")
struct EndpointTests {
    let credentials = S3Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "secret")

    @Test func awsIsVirtualHosted() throws {
        let config = S3Configuration(bucket: "my-lake", prefix: "/events/", region: "eu-west-1", credentials: credentials)
        #expect(config.addressing == .virtualHosted)
        #expect(config.prefix == "events/")
        let endpoint = try S3Endpoint(config)
        #expect(endpoint.hostHeader == "my-lake.s3.eu-west-1.amazonaws.com")
        #expect(endpoint.origin == "https://my-lake.s3.eu-west-1.amazonaws.com")
        #expect(endpoint.bucketPath == "")
    }

    @Test func minioIsPathStyleWithPort() throws {
        let endpoint = try S3Endpoint(S3Configuration(bucket: "lake", endpoint: "http://127.0.0.1:9000", credentials: credentials))
        #expect(endpoint.hostHeader == "127.0.0.1:9000")
        #expect(endpoint.bucketPath == "/lake")
        // Default ports are not part of the signed host.
        #expect(try S3Endpoint(S3Configuration(bucket: "b", endpoint: "https://minio.local:443", credentials: credentials))
            .hostHeader == "minio.local")
        #expect(try S3Endpoint(S3Configuration(bucket: "b", endpoint: "http://minio.local:80", credentials: credentials))
            .hostHeader == "minio.local")
    }

    @Test func r2UsesRegionAuto() throws {
        let config = S3Configuration.r2(accountID: "0123abcd", bucket: "lake", credentials: credentials)
        #expect(config.region == "auto")
        let endpoint = try S3Endpoint(config)
        #expect(endpoint.origin == "https://0123abcd.r2.cloudflarestorage.com")
        #expect(endpoint.bucketPath == "/lake")
    }

    @Test func badEndpointsAreRejected() {
        for url in ["ftp://x", "127.0.0.1:9000", "http://"] {
            #expect(throws: ObjectStoreError.self, "\(url)") {
                try S3Endpoint(S3Configuration(bucket: "b", endpoint: url, credentials: credentials))
            }
        }
        #expect(throws: ObjectStoreError.self) {
            try S3ObjectStore(configuration: S3Configuration(bucket: "b", endpoint: "https://x", credentials: credentials,
                                                             caCertificateFile: "/nonexistent/ca.pem"))
        }
    }

    @Test func presignedURLUsesEncodedKey() async throws {
        let store = try S3ObjectStore(configuration: S3Configuration(bucket: "lake", prefix: "p", endpoint: "http://127.0.0.1:9000",
                                                                     credentials: credentials))
        let url = try await store.presignedGetURL(key: "year=2026/a b.parquet", expires: 60,
                                                  date: Date(timeIntervalSince1970: 1_369_353_600))
        #expect(url.hasPrefix("http://127.0.0.1:9000/lake/p/year%3D2026/a%20b.parquet?X-Amz-Algorithm=AWS4-HMAC-SHA256"))
        #expect(url.contains("&X-Amz-Date=20130524T000000Z&X-Amz-Expires=60&"))
        #expect(url.contains("&X-Amz-SignedHeaders=host"))
        #expect(url.contains("&X-Amz-Signature="))
    }

    @Test func xmlScanner() {
        let xml = S3XML(Array("""
            <?xml version="1.0"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><IsTruncated>true</IsTruncated>
            <Contents><Key>a&amp;b &lt;c&gt; &#233;&#x4E2D;</Key><Size>12</Size><LastModified>2026-11-21T19:43:00.250Z</LastModified></Contents>
            <Contents><Key>z</Key><Size>0</Size></Contents><NextContinuationToken>tok/+=</NextContinuationToken></ListBucketResult>
            """.utf8))
        #expect(xml.hasRoot("ListBucketResult"))
        #expect(!xml.hasRoot("Error"))
        let contents = xml.elements("Contents")
        #expect(contents.map { $0.value("Key") } == ["a&b <c> é中", "z"])
        #expect(contents[0].value("LastModified").flatMap(S3XML.parseTimestamp)?.timeIntervalSince1970 == 1_795_290_180.25)
        #expect(xml.value("NextContinuationToken") == "tok/+=")
        #expect(S3XML(Array("<Error><Code>SlowDown</Code></Error>".utf8)).hasRoot("Error"))
    }

    @Test func errorsSayWhatToCheck() {
        let e = ObjectStoreError(code: .noSuchBucket, operation: "PutObject", bucket: "lake", key: "k", status: 404,
                                 s3Code: "NoSuchBucket", requestID: "R1", message: "The specified bucket does not exist")
        #expect(e.description == "PutObject failed (noSuchBucket) bucket=lake key=k status=404 code=NoSuchBucket request-id=R1: "
            + "The specified bucket does not exist (bucket does not exist: create it, or check the bucket name and endpoint)")
    }

    @Test func backoffIsFullJitterUnderTheCap() {
        let policy = RetryPolicy(baseDelay: .milliseconds(100), maxDelay: .seconds(1))
        for retry in 1...12 {
            let ceiling = min(Duration.seconds(1), .milliseconds(100) * (1 << (retry - 1)))
            let delays = (0..<200).map { _ in policy.delay(beforeRetry: retry) }
            #expect(delays.allSatisfy { $0 >= .zero && $0 <= ceiling }, "retry \(retry)")
            // Full jitter spreads over the whole range, not just near the ceiling.
            #expect(delays.contains { $0 < ceiling / 2 }, "retry \(retry)")
        }
    }

    @Test func factoryReadsCredentialsFromTheEnvironment() async throws {
        let store = try makeObjectStore(url: "s3://lake/x", options: ObjectStoreOptions(endpoint: "http://127.0.0.1:9"),
                                        environment: ["AWS_ACCESS_KEY_ID": "AKIDENV", "AWS_SECRET_ACCESS_KEY": "s3cr3t",
                                                      "AWS_SESSION_TOKEN": "tok"])
        let s3 = try #require(store as? S3ObjectStore)
        #expect(try await s3.configuration.credentialProvider.credentials() == S3Credentials(accessKeyID: "AKIDENV", secretAccessKey: "s3cr3t", sessionToken: "tok"))
        #expect(s3.configuration.prefix == "x/")
        #expect(!"\(s3.configuration)".contains("s3cr3t"))
        try await store.shutdown()
    }
}
