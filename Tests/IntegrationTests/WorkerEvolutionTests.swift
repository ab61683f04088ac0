import LakeModel
import LakeOutput
import LakeWorker
import Foundation
import Logging
import NIOCore
import ObjectStore
import RedisStreams
import Testing
import TestSupport

/// `unknown_fields: evolve` in the worker: a field appearing mid-stream becomes a column of the
/// files written after it, widens int → float64, each version is recorded under `_schemas/`,
/// and a restarted worker goes on from the latest recorded version.
@Suite(.serialized) struct WorkerEvolutionTests {
    static func config(_ env: WorkerTests.Env, id: String, bucket: String) throws -> LakewriterConfig {
        let yaml = """
        \(WorkerTests.header(env, id: id, bucket: bucket, flush: "max_rows: 100000, max_age: 60s, idle: 500ms, shutdown_grace: 20s"))
        entities:
          readings:
            stream: readings-\(id)
            payload: json:data
            unknown_fields: evolve
            columns:
              n: int64 not null
        """
        return try ConfigLoader(environment: [:]).load(yaml: yaml)
    }

    /// Per file (by its smallest `n`): the type DuckDB reports for `col`, or nil when the file lacks it.
    static func columnTypes(_ env: WorkerTests.Env, _ glob: String, _ col: String) async throws -> [Int: String?] {
        let files = try await WorkerTests.duckdb(env, "select filename, min(n) from read_parquet('\(glob)', filename=true, union_by_name=true) group by 1") as! [[Any]]
        let types = try await WorkerTests.duckdb(env, "select file_name, type from parquet_schema('\(glob)') where name = '\(col)'") as! [[Any]]
        var byFile: [String: String] = [:]
        for t in types { byFile[t[0] as! String] = t[1] as? String }
        var result: [Int: String?] = [:]
        for f in files { result[f[1] as! Int] = byFile[f[0] as! String] }
        return result
    }

    @Test func newFieldBecomesAColumnOfLaterFilesAndWidensToFloat() async throws {
        let env = try WorkerTests.env()
        let id = WorkerTests.unique(), bucket = "e-\(id)"
        let store = try await WorkerTests.makeStore(env, bucket: bucket)
        let config = try Self.config(env, id: id, bucket: bucket)
        let client = RedisStreamClient(configuration: try RedisConfiguration(url: env.redisURL), logger: Logger(label: "test"))
        defer { client.close() }
        let stream = "readings-\(id)"

        // 0..<40: no score; 40..<80: integer score; 80..<120: float score (widens the column).
        var ids: Set<String> = []
        for i in 0..<120 {
            let data = i < 40 ? #"{"n":\#(i)}"# : i < 80 ? #"{"n":\#(i),"score":\#(i)}"# : #"{"n":\#(i),"score":\#(i).5}"#
            ids.insert(try await client.add(stream: stream, fields: [StreamField("data", data)]).description)
        }
        try await WorkerTests.withWorker(config) { _ in
            try await WorkerTests.waitUntil("every entry acknowledged") {
                try await WorkerTests.allAcknowledged(client, streams: [stream], group: "g-\(id)")
            }
        }

        var (dir, keys) = try await WorkerTests.download(store, prefix: "lake/")
        let glob = "\(dir.path)/lake/readings/**/*.parquet"
        // Versions: 1 declared, 2 adds score int64, 3 widens it to float64; one file per version.
        #expect(keys.filter { $0.hasPrefix("lake/_schemas/readings/") }
            == ["lake/_schemas/readings/v000001.json", "lake/_schemas/readings/v000002.json", "lake/_schemas/readings/v000003.json"])
        let v3 = try String(contentsOf: dir.appendingPathComponent("lake/_schemas/readings/v000003.json"), encoding: .utf8)
        #expect(v3.contains(#"{"name":"score","type":"float64","nullable":true,"evolved":true}"#), "\(v3)")
        let v2 = try String(contentsOf: dir.appendingPathComponent("lake/_schemas/readings/v000002.json"), encoding: .utf8)
        #expect(v2.contains(#""name":"score","type":"int64""#), "\(v2)")

        let types = try await Self.columnTypes(env, glob, "score")
        #expect(types.count == 3, "\(types)")
        #expect(types[0] == .some(nil))  // written before the field appeared: no column
        #expect(types[40] == "INT64")
        #expect(types[80] == "DOUBLE")

        // Every value, every entry once, with all files read together.
        let rows = try await WorkerTests.duckdb(env, "select n, score, _stream_id from read_parquet('\(glob)', union_by_name=true) order by n") as! [[Any]]
        #expect(rows.count == 120)
        #expect(Set(rows.map { $0[2] as! String }) == ids)
        for r in rows {
            let n = r[0] as! Int
            let score = r[1] as? Double
            let expected: Double? = n < 40 ? nil : n < 80 ? Double(n) : Double(n) + 0.5
            #expect(score == expected, "n=\(n)")
        }
        let versions = try await WorkerTests.duckdb(env, """
            select distinct value::varchar from parquet_kv_metadata('\(glob)') where key::varchar = 'lakewriter.schema_version' order by 1
            """) as! [[Any]]
        #expect(versions.map { $0[0] as! String } == ["1", "2", "3"])

        // A restarted worker starts from version 3: files without score still have the column,
        // and a further new field makes version 4.
        try await WorkerTests.withWorker(config) { _ in
            _ = try await client.add(stream: stream, fields: [StreamField("data", #"{"n":200}"#)])
            _ = try await client.add(stream: stream, fields: [StreamField("data", #"{"n":201,"tag":"x"}"#)])
            try await WorkerTests.waitUntil("the new entries acknowledged") {
                try await WorkerTests.allAcknowledged(client, streams: [stream], group: "g-\(id)")
            }
        }
        (dir, keys) = try await WorkerTests.download(store, prefix: "lake/")
        #expect(keys.contains("lake/_schemas/readings/v000004.json"))
        #expect(!keys.contains("lake/_schemas/readings/v000005.json"))
        let glob2 = "\(dir.path)/lake/readings/**/*.parquet"
        let after = try await Self.columnTypes(env, glob2, "score")
        #expect(after[200] == "DOUBLE", "\(after)")
        #expect(after[201] == "DOUBLE")
        let tags = try await Self.columnTypes(env, glob2, "tag")
        #expect(tags[200] == .some(nil))
        #expect(tags[201] == "BYTE_ARRAY", "\(tags)")
        let last = try await WorkerTests.duckdb(env, "select n, score, tag from read_parquet('\(glob2)', union_by_name=true) where n >= 200 order by n") as! [[Any]]
        #expect(last.count == 2)
        #expect(last.last?[2] as? String == "x")
    }
}
