import Foundation
import LakeModel
import LakeWorker
import LakeOutput
import Logging
import NIOCore
import ObjectStore
import RedisStreams

extension Commands {
    /// One line of `check-config --connect`: what was contacted and what it said.
    package struct Verdict: Sendable, Equatable {
        package enum Level: String, Sendable { case ok = "ok", note = "note", fail = "FAIL" }
        package var level: Level
        package var subject: String
        package var message: String
        package var line: String { "\(level.rawValue.padding(toLength: 4, withPad: " ", startingAt: 0)) \(subject): \(message)\n" }
    }

    /// `check-config --connect`: after the config validated, contacts Redis (PING, each stream and
    /// the consumer group, the consumer-name lease) and the store (writes, reads back and deletes a
    /// probe object under the prefix), and says for each whether the worker would work there. Exit
    /// 0 when nothing failed, 1 otherwise. Changes nothing (the probe object is removed again).
    package static func connectCheck(_ config: LakewriterConfig, timeout: Duration = .seconds(10),
                                     output: Output) async -> Int32 {
        var verdicts: [Verdict] = []
        func say(_ v: Verdict) {
            verdicts.append(v)
            output.out(v.line)
        }
        for v in await redisVerdicts(config, timeout: timeout) { say(v) }
        for v in await storageVerdicts(config) { say(v) }
        let failed = verdicts.filter { $0.level == .fail }.count
        output.err(failed == 0 ? "connect: OK, Redis and the store answered as the worker needs\n"
                               : "connect: \(failed) check\(failed == 1 ? "" : "s") failed\n")
        return failed == 0 ? Status.ok : Status.failure
    }

    /// `check-config --connect` for the CLI: loads the (already validated) config and checks.
    public static func checkConnections(path: String, environment: [String: String] = ProcessInfo.processInfo.environment,
                                        output: Output = .standard) async -> Int32 {
        do {
            return await connectCheck(try ConfigLoader(environment: environment).load(path: path), output: output)
        } catch {
            output.err("error: \(error)\n")
            return Status.usage
        }
    }

    static func redisVerdicts(_ config: LakewriterConfig, timeout: Duration) async -> [Verdict] {
        var out: [Verdict] = []
        var rc: RedisConfiguration
        do {
            rc = try config.redis.connection()
        } catch {
            return [Verdict(level: .fail, subject: "redis", message: "\(error)")]
        }
        rc.connectTimeout = min(rc.connectTimeout, timeout)
        rc.commandTimeout = min(rc.commandTimeout, timeout)
        let shown = LakewriterConfig.maskURL(config.redis.url)
        let client = RedisStreamClient(configuration: rc, maxAttempts: 1,
                                       logger: Logger(label: "lakewriter.connect", factory: { _ in SwiftLogNoOpLogHandler() }))
        defer { client.close() }
        do {
            let pong = try await client.command(["PING"])
            let info = (try? await client.command(["INFO", "server"]))?.text ?? ""
            let version = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("redis_version:") }
                .map { String($0.dropFirst("redis_version:".count)) }
            out.append(Verdict(level: .ok, subject: "redis",
                               message: "\(pong.text ?? "PONG") from \(shown)\(version.map { " (Redis \($0))" } ?? "")"))
        } catch {
            out.append(Verdict(level: .fail, subject: "redis", message: "\(shown): \(error)"))
            return out
        }
        var streams: [String] = []
        for e in config.entities where !streams.contains(e.stream) { streams.append(e.stream) }
        let group = config.redis.group
        for s in streams {
            let subject = "stream \(s)"
            do {
                let length = try await client.command(["XLEN", s]).int ?? 0
                let exists = (try await client.command(["EXISTS", s]).int ?? 0) == 1
                guard exists else {
                    out.append(Verdict(level: .note, subject: subject,
                                       message: "does not exist yet: the worker creates it with group \(group) (MKSTREAM)"))
                    continue
                }
                let groups = try await client.groups(stream: s)
                if let g = groups.first(where: { $0.name == group }) {
                    let lag = g.lag.map { "\($0) not yet delivered" } ?? "lag unknown"
                    out.append(Verdict(level: .ok, subject: subject,
                                       message: "\(length) entries; group \(group) exists (\(lag), \(g.pending) pending, \(g.consumers) consumers)"))
                } else {
                    out.append(Verdict(level: .note, subject: subject,
                                       message: "\(length) entries; group \(group) does not exist yet: the worker creates it at its start position"))
                }
            } catch let e as RedisError where e.code == .permissionDenied {
                out.append(Verdict(level: .fail, subject: subject, message: "the Redis user may not read it: \(e)"))
            } catch {
                out.append(Verdict(level: .fail, subject: subject, message: "\(error)"))
            }
        }
        // The consumer-name lease: another worker running under this name would refuse us.
        let lease = "lakewriter:lease:\(group):\(config.redis.consumer)"
        if let ttl = try? await client.command(["PTTL", lease]).int, ttl > 0 {
            out.append(Verdict(level: .note, subject: "consumer \(config.redis.consumer)",
                               message: "a worker holds this consumer name now (lease \(lease), \(ttl) ms left): a second one would wait, then refuse to start"))
        } else {
            out.append(Verdict(level: .ok, subject: "consumer \(config.redis.consumer)", message: "no other worker uses this name"))
        }
        return out
    }

    static func storageVerdicts(_ config: LakewriterConfig) async -> [Verdict] {
        let subject = "storage \(config.storage.url)"
        let store: any ObjectStore
        do {
            store = try config.storage.openStore(logger: Logger(label: "lakewriter.connect", factory: { _ in SwiftLogNoOpLogHandler() }))
        } catch {
            return [Verdict(level: .fail, subject: subject, message: "\(error)")]
        }
        defer { Task { try? await store.shutdown() } }
        let key = "_lakewriter/probe/\(UUIDv7()).txt"
        let body = Array("lakewriter check-config --connect probe\n".utf8)
        do {
            _ = try await store.put(key: key, bytes: body)
        } catch {
            return [Verdict(level: .fail, subject: subject, message: "cannot write \(key): \(error)")]
        }
        var out: [Verdict] = []
        var readBack = false
        do {
            let back = try await store.get(key: key)
            readBack = Array(back.readableBytesView) == body
            if !readBack {
                out.append(Verdict(level: .fail, subject: subject, message: "\(key) read back differs from what was written"))
            }
        } catch {
            out.append(Verdict(level: .fail, subject: subject, message: "wrote \(key) but cannot read it: \(error)"))
        }
        do {
            try await store.delete(key: key)
            if readBack {
                out.append(Verdict(level: .ok, subject: subject, message: "wrote, read back and deleted \(key)"))
            }
        } catch {
            out.append(Verdict(level: .fail, subject: subject,
                               message: "wrote \(key) but cannot delete it (remove it by hand): \(error)"))
        }
        return out
    }
}
