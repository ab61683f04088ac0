@testable import LakeModel
@testable import LakeDecoding
@testable import LakeOutput
@testable import LakeTools
import Foundation
import Testing
import TestSupport

/// `convert --output s3://…` and `inspect s3://…` against SeaweedFS with the config's credentials.
@Suite struct S3ConvertTests {
    static var available: Bool { TestEnvironment.s3Endpoint != nil || TestEnvironment.isCI }

    @Test func convertToS3AndInspect() async throws {
        guard Self.available else { return }
        let endpoint = try #require(TestEnvironment.s3Endpoint)
        let key = try #require(TestEnvironment.s3AccessKey)
        let secret = try #require(TestEnvironment.s3SecretKey)
        let python = try #require(TestEnvironment.python)
        // The worker tests' bucket, a prefix per run: SeaweedFS allocates volumes per bucket, and a
        // new bucket per run exhausts them on a long-lived server (PutObject then answers 500).
        let bucketName = "lakewriter-worker-tests"
        let bucket = bucketName + "/" + UUID().uuidString.prefix(8).lowercased()
        try await ProcessRunner.run(python, ["-c", """
            import boto3, sys
            s3 = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3],
                              region_name=sys.argv[4])
            try:
                s3.create_bucket(Bucket=sys.argv[5])
            except (s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
                pass
            """, endpoint, key, secret, TestEnvironment.s3Region, bucketName])

        let dir = try TestEnvironment.temporaryDirectory("s3convert").path
        let config = dir + "/c.yaml"
        try """
        storage: {url: "s3://\(bucket)/lake", endpoint: "\(endpoint)", region: \(TestEnvironment.s3Region),
                  access_key_id: "${KEY}", secret_access_key: "${SECRET}"}
        entities:
          e: {stream: s, columns: {id: int64 not null, name: string}}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let input = dir + "/in.jsonl"
        try "{\"id\": 1, \"name\": \"a\"}\n{\"id\": 2}\n".write(toFile: input, atomically: true, encoding: .utf8)
        let env = ["KEY": key, "SECRET": secret]
        let box = OutputBox()
        let code = await Commands.convert(.init(config: config, entity: "e", input: input, output: "s3://\(bucket)/out/e.parquet"),
                                          environment: env, output: box.output)
        #expect(code == 0, "\(box.err)")
        let inspect = OutputBox()
        #expect(await Commands.inspect(path: "s3://\(bucket)/out/e.parquet", json: true, config: config, environment: env,
                                       output: inspect.output) == 0, "\(inspect.err)")
        #expect(inspect.out.contains("\"num_rows\":2"))
        // A prefix: every .parquet key under it, one line each, and a missing key named.
        #expect(await Commands.convert(.init(config: config, entity: "e", input: input, output: "s3://\(bucket)/out/sub/f.parquet"),
                                       environment: env, output: OutputBox().output) == 0)
        let prefix = OutputBox()
        #expect(await Commands.inspect(paths: ["s3://\(bucket)/out/"], json: false, config: config, environment: env,
                                       output: prefix.output) == 0, "\(prefix.err)")
        #expect(prefix.out.contains("s3://\(bucket)/out/e.parquet") && prefix.out.contains("s3://\(bucket)/out/sub/f.parquet"), "\(prefix.out)")
        #expect(prefix.out.contains("2 files, 4 rows") && prefix.out.contains("one schema (3 columns)"), "\(prefix.out)")
        let gone = OutputBox()
        #expect(await Commands.inspect(paths: ["s3://\(bucket)/out/none.parquet"], json: false, config: config, environment: env,
                                       output: gone.output) == 1)
        #expect(gone.err.hasPrefix("error: reading s3://\(bucket)/out/none.parquet: "), "\(gone.err)")
        // A wrong secret fails cleanly (exit 1), never a partial object.
        let bad = await Commands.convert(.init(config: config, entity: "e", input: input, output: "s3://\(bucket)/out/bad.parquet"),
                                         environment: ["KEY": key, "SECRET": "wrong"], output: OutputBox().output)
        #expect(bad == 1)
    }
}
