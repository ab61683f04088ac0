@testable import LakeModel
import Testing

/// `partition_by`, `partition_columns_in_file`, `time_partition` and `flush.max_open_partitions`.
@Suite struct PartitionConfigTests {
    static func load(_ entity: String, flush: String = "") throws -> LakewriterConfig {
        try ConfigLoader(environment: [:]).load(yaml: """
        redis: {url: "redis://127.0.0.1:1/0"}
        flush: {\(flush)}
        entities:
          events:
            stream: events
            payload: json:data
            time: at
        \(entity)
            columns:
              tenant: string
              account: int64 not null
              at: timestamp(ms, utc)
              day: date
              score: float64
              blob: binary
              doc: json
              tags: list<string>
        """)
    }

    @Test func defaultsKeepTodaysLayout() throws {
        let c = try Self.load("")
        #expect(c.entities[0].partitionBy.isEmpty)
        #expect(c.entities[0].timePartition == .hour)
        #expect(c.entities[0].partitionColumnsInFile)
        #expect(c.flush.maxOpenPartitions == 1000)
    }

    @Test func partitionColumnsAndGranularityAreRead() throws {
        let c = try Self.load("""
            partition_by: [account, tenant]
            partition_columns_in_file: false
            time_partition: day
        """, flush: "max_open_partitions: 50")
        #expect(c.entities[0].partitionBy == ["account", "tenant"])
        #expect(!c.entities[0].partitionColumnsInFile)
        #expect(c.entities[0].timePartition == .day)
        #expect(c.flush.maxOpenPartitions == 50)
        // check-config shows them.
        #expect(c.maskedYAML.contains("    partition_by: [\"account\", \"tenant\"]\n    partition_columns_in_file: false\n"))
        #expect(c.maskedYAML.contains("    time_partition: day\n"))
        #expect(c.maskedYAML.contains("  max_open_partitions: 50\n"))
        // A single name works as well as a list.
        #expect(try Self.load("    partition_by: tenant").entities[0].partitionBy == ["tenant"])
        for g in TimeGranularity.allCases {
            #expect(try Self.load("    time_partition: \(g.rawValue)").entities[0].timePartition == g)
        }
    }

    @Test func refusesWhatCannotPartition() {
        let cases: [(String, String)] = [
            ("    partition_by: [nope]", "no declared column named nope"),
            ("    partition_by: [tenant, tenant]", "tenant is listed twice"),
            ("    partition_by: [score]", "float column"),
            ("    partition_by: [tags]", "nested column"),
            ("    partition_by: [blob]", "binary column"),
            ("    partition_by: [doc]", "json column"),
            ("    partition_by: [\"\"]", "entities.events.partition_by[0]"),
            ("    time_partition: week", "expected hour, day, month, year or none"),
        ]
        for (yaml, message) in cases {
            do {
                _ = try Self.load(yaml)
                Issue.record("accepted \(yaml)")
            } catch {
                #expect("\(error)".contains(message), "\(yaml): \(error)")
                #expect("\(error)".contains("entities.events."), "\(yaml): \(error)")
            }
        }
        do {
            _ = try Self.load("", flush: "max_open_partitions: 0")
            Issue.record("accepted 0")
        } catch {
            #expect("\(error)".contains("flush.max_open_partitions"), "\(error)")
        }
    }
}
