@testable import LakeModel
@testable import LakeOutput
import Foundation
import ObjectStore
import Parquet
import Testing
import TestSupport

/// The one `StorageConfig` → `ObjectStore` opener of the worker, the commands and the backfill.
@Suite struct StoreOpenerTests {
    func storage(_ yaml: String) throws -> StorageConfig {
        try ConfigLoader(environment: [:]).load(yaml: yaml + "\nentities: {e: {stream: s, columns: {a: int64}}}\n").storage
    }

    @Test func pathStyleFalseIsHonouredWithAnEndpoint() async throws {
        let virtual = try storage("""
        storage: {url: "s3://lake/events", endpoint: "https://acct.r2.cloudflarestorage.com", region: auto,
                  path_style: false, access_key_id: a, secret_access_key: b}
        """)
        let v = try #require(try virtual.openStore() as? S3ObjectStore)
        #expect(v.configuration.addressing == .virtualHosted)
        #expect(v.configuration.bucket == "lake" && v.location == "s3://lake/events/")
        try await v.shutdown()
        // The default with an endpoint stays path-style; explicit true too.
        for yaml in ["storage: {url: \"s3://lake\", endpoint: \"http://127.0.0.1:9000\", access_key_id: a, secret_access_key: b}",
                     "storage: {url: \"s3://lake\", endpoint: \"http://127.0.0.1:9000\", path_style: true, access_key_id: a, secret_access_key: b}"] {
            let p = try #require(try storage(yaml).openStore() as? S3ObjectStore)
            #expect(p.configuration.addressing == .pathStyle, "\(yaml)")
            try await p.shutdown()
        }
        // Without an endpoint (AWS), virtual-hosted.
        let aws = try #require(try storage("storage: {url: \"s3://lake\", access_key_id: a, secret_access_key: b}").openStore() as? S3ObjectStore)
        #expect(aws.configuration.addressing == .virtualHosted)
        try await aws.shutdown()
    }

    @Test func relativeFileURLsResolveAgainstTheDirectoryAndAreCreated() async throws {
        let dir = try TestEnvironment.temporaryDirectory("opener").path
        for url in ["file://./lake", "file://lake"] {
            var s = StorageConfig()
            s.url = url
            let store = try s.openStore(relativeTo: dir)
            #expect(store.location == "file://" + dir + "/lake/", "\(url) → \(store.location)")
            var isDir: ObjCBool = false
            #expect(FileManager.default.fileExists(atPath: dir + "/lake", isDirectory: &isDir) && isDir.boolValue)
        }
        // Another location with the same settings (a command's output bucket).
        var s = StorageConfig()
        s.url = "file://" + dir + "/a"
        let other = try s.openStore(url: "file://" + dir + "/b")
        #expect(other.location == "file://" + dir + "/b/")
    }

    @Test func writerPropertiesFollowTheParquetConfig() {
        var p = ParquetConfig()
        p.compression = .zstd
        p.rowGroupRows = 1000
        p.pageBytes = 4096
        p.dictionary = false
        let w = p.writerProperties
        #expect(w.compression == .zstd(level: 3))
        #expect(w.maxRowGroupRows == 1000 && w.dataPageSize == 4096 && !w.dictionaryEnabled)
        p.compression = .gzip
        p.compressionLevel = 9
        #expect(p.writerProperties.compression == .gzip(level: 9))
    }
}
