import LakeModel
import LakeOutput
import LakeDecoding
import Foundation
import Parquet

/// Why `convert` failed as a whole (rejected rows are not failures: see ``ConvertResult``).
public enum ConvertError: Error, CustomStringConvertible, Sendable {
    /// Bad arguments or configuration: exit status 2.
    case usage(String)
    case io(String)
    case parquet(String)
    case storage(String)

    public var description: String {
        switch self {
        case .usage(let m), .io(let m), .parquet(let m), .storage(let m): m
        }
    }

    /// The exit status the CLI uses.
    public var exitCode: Int32 {
        if case .usage = self { return 2 }
        return 1
    }
}

/// One rejected input line.
public struct RejectedLine: Sendable {
    /// 1-based line number in the input.
    public var line: Int
    public var error: DecodeError
}

/// What `convert` did.
public struct ConvertResult: Sendable {
    public var rows: Int
    public var rejected: Int
    /// The first rejected lines (all of them are in the rejects file when one is given).
    public var sampleRejects: [RejectedLine]
    public var fileBytes: Int64
    public var seconds: Double
    /// The schema version the file was written with (> 1 when evolution added columns).
    public var schemaVersion: Int
}

/// `lakewriter convert`: JSON Lines → one Parquet file. Lines are split into blocks decoded in
/// parallel (one decoder and one row batch per block in flight) while the writer encodes the
/// finished blocks in input order, so decoding and encoding overlap across cores.
public struct Converter: Sendable {
    public var entity: EntityConfig
    public var parquet: ParquetConfig
    /// Decoding threads; default: the active processor count.
    public var threads: Int
    /// Input bytes per block.
    public var blockBytes: Int = 4 << 20
    /// Told how far the conversion is after each block written (nil: silent).
    public var progress: ConvertProgress?

    public init(entity: EntityConfig, parquet: ParquetConfig, threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.entity = entity
        self.parquet = parquet
        self.threads = max(1, threads)
    }

    /// Converts `inputPath` (`-` for stdin) into a Parquet file at `outputPath` (a local path).
    /// Rejected lines go to `rejects` (JSON Lines: line, entity, field, reason, message, text, input).
    ///
    /// Both files are written under temporary names beside their destination and renamed into
    /// place only when the conversion succeeded: a failing convert never destroys an existing file.
    public func run(inputPath: String, outputPath: String, rejectsPath: String?) throws(ConvertError) -> ConvertResult {
        let tmpOutput = Self.temporaryName(for: outputPath)
        let tmpRejects = rejectsPath.map(Self.temporaryName(for:))
        var published = false
        defer {
            if !published {
                unlink(tmpOutput)
                if let tmpRejects { unlink(tmpRejects) }
            }
        }
        let result = try convert(inputPath: inputPath, outputPath: tmpOutput, displayPath: outputPath,
                                 rejectsPath: tmpRejects)
        if let tmpRejects, let rejectsPath, rename(tmpRejects, rejectsPath) != 0 {
            throw ConvertError.io("cannot create rejects file \(rejectsPath): \(String(cString: strerror(errno)))")
        }
        guard rename(tmpOutput, outputPath) == 0 else {
            throw ConvertError.io("cannot create \(outputPath): \(String(cString: strerror(errno)))")
        }
        published = true
        return result
    }

    /// `dir/.name.tmp-PID-RANDOM`: beside `path`, so the rename stays on one file system.
    static func temporaryName(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        return dir + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    }

    private func convert(inputPath: String, outputPath: String, displayPath: String,
                         rejectsPath: String?) throws(ConvertError) -> ConvertResult {
        let started = DispatchTime.now()
        let input = try InputBytes(path: inputPath)
        let blocks = Self.split(input.bytes, blockBytes: blockBytes)

        // Evolution first looks at every line, so the one file has the final schema.
        var schema = EntitySchema(entity: entity)
        if entity.unknownFields == .evolve {
            var evolution = SchemaEvolution(entity: entity)
            Self.forEachLine(input.bytes) { line in _ = try? evolution.observe(json: line) }
            schema = evolution.schema
        }

        var rejectsHandle: FileHandle?
        if let rejectsPath {
            guard FileManager.default.createFile(atPath: rejectsPath, contents: nil),
                  let h = FileHandle(forWritingAtPath: rejectsPath)
            else { throw ConvertError.io("cannot create the rejects file beside \(rejectsPath)") }
            rejectsHandle = h
        }
        defer { try? rejectsHandle?.close() }

        let writer: ParquetWriter
        do {
            let parquetSchema = try schema.parquetSchema()
            var props = parquet.writerProperties
            props.keyValueMetadata["lakewriter.entity"] = entity.name
            props.keyValueMetadata["lakewriter.schema_version"] = String(schema.version)
            props.keyValueMetadata["lakewriter.schema"] = schema.jsonDescription
            writer = try ParquetWriter(schema: parquetSchema, sink: try FileSink(path: outputPath), properties: props)
        } catch {
            throw ConvertError.parquet("cannot create \(displayPath): \(error)")
        }

        let pipeline = DecodePipeline(entity: entity, schema: schema, input: input, blocks: blocks,
                                      threads: min(threads, max(1, blocks.count)))
        var rows = 0
        var rejected = 0
        var samples: [RejectedLine] = []
        var failure: ConvertError?
        pipeline.start()
        for i in 0..<blocks.count {
            var result = pipeline.take(i)
            if failure == nil {
                if let e = result.setupError {
                    failure = .parquet("cannot decode: \(e)")
                } else {
                    do {
                        try writer.write(result.batch!)
                        rows += result.batch!.rowCount
                        progress?.update(bytes: blocks[i].end, of: input.bytes.count, rows: rows)
                    } catch {
                        failure = .parquet("writing \(displayPath): \(error)")
                    }
                }
                for r in result.rejects {
                    rejected += 1
                    if samples.count < 20 { samples.append(r) }
                    if let h = rejectsHandle {
                        h.write(Self.rejectRecord(r, line: Self.lineText(input.bytes, blocks[i], r.line)))
                    }
                }
            }
            pipeline.recycle(&result)
        }
        pipeline.finish()
        progress?.finish()
        if let failure { throw failure }
        do {
            try writer.close()
        } catch {
            throw ConvertError.parquet("finishing \(displayPath): \(error)")
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: outputPath)[.size] as? NSNumber)?.int64Value ?? 0
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        return ConvertResult(rows: rows, rejected: rejected, sampleRejects: samples, fileBytes: size, seconds: seconds,
                             schemaVersion: schema.version)
    }

    /// A block of whole lines: byte range and the number of its first line.
    struct Block {
        var start: Int
        var end: Int
        var firstLine: Int
    }

    /// Cuts the input at line ends near every `blockBytes`, numbering lines as it goes.
    static func split(_ bytes: UnsafeRawBufferPointer, blockBytes: Int) -> [Block] {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return [] }
        var blocks: [Block] = []
        var start = 0
        var line = 1
        while start < bytes.count {
            var end = min(start + blockBytes, bytes.count)
            if end < bytes.count {
                if let nl = memchr(base + end, 0x0A, bytes.count - end) {
                    end = base.distance(to: UnsafeRawPointer(nl)) + 1
                } else {
                    end = bytes.count
                }
            }
            blocks.append(Block(start: start, end: end, firstLine: line))
            line += countNewlines(base + start, end - start)
            start = end
        }
        return blocks
    }

    static func countNewlines(_ p: UnsafeRawPointer, _ n: Int) -> Int {
        var count = 0
        var cur = p
        var left = n
        while left > 0, let nl = memchr(cur, 0x0A, left) {
            count += 1
            let next = UnsafeRawPointer(nl) + 1
            left -= cur.distance(to: next)
            cur = next
        }
        return count
    }

    static func forEachLine(_ bytes: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void) {
        guard let base = bytes.baseAddress else { return }
        var start = 0
        while start < bytes.count {
            var end = bytes.count
            if let nl = memchr(base + start, 0x0A, bytes.count - start) { end = base.distance(to: UnsafeRawPointer(nl)) }
            let line = UnsafeRawBufferPointer(start: base + start, count: end - start)
            if !EntityDecoder.isBlank(line) { body(line) }
            start = end + 1
        }
    }

    static func lineText(_ bytes: UnsafeRawBufferPointer, _ block: Block, _ line: Int) -> UnsafeRawBufferPointer {
        var i = block.start
        var n = block.firstLine
        while n < line, i < block.end {
            if bytes[i] == 0x0A { n += 1 }
            i += 1
        }
        var e = i
        while e < block.end, bytes[e] != 0x0A { e += 1 }
        if e > i, bytes[e - 1] == 0x0D { e -= 1 }
        return UnsafeRawBufferPointer(rebasing: bytes[i..<e])
    }

    static func rejectRecord(_ r: RejectedLine, line: UnsafeRawBufferPointer) -> Data {
        let out = ScratchBuffer(capacity: 256 + line.count)
        func add(_ s: String) {
            var s = s
            s.withUTF8 { out.append(UnsafeRawBufferPointer($0)) }
        }
        add("{\"line\":\(r.line),\"entity\":\(JSONText.quoted(r.error.entity)),\"field\":\(JSONText.quoted(r.error.field)),")
        add("\"reason\":\(JSONText.quoted(r.error.reason.rawValue)),\"message\":\(JSONText.quoted(r.error.message)),")
        add("\"text\":\(JSONText.quoted(r.error.text)),")
        if ValueParsers.isValidUTF8(line) {
            add("\"input\":")
            JSONText.appendQuoted(line, to: out)
        } else {
            // Not UTF-8: JSON cannot hold the bytes, so the line is given whole in base64.
            add("\"input_base64\":\"\(Data(line).base64EncodedString())\"")
        }
        add("}\n")
        return Data(out.bytes)
    }
}

/// Decodes blocks on worker threads, at most a few ahead of the writer, handing results back in order.
final class DecodePipeline: @unchecked Sendable {
    // All mutable state is guarded by `condition`; decoders and batches are owned by one thread at a time.
    struct Result {
        var index: Int
        var batch: RowBatch?
        var rejects: [RejectedLine]
        var setupError: String?
    }

    private let entity: EntityConfig
    private let schema: EntitySchema
    private let input: InputBytes
    private let blocks: [Converter.Block]
    private let threads: Int
    private let condition = NSCondition()
    private var next = 0
    private var ready: [Int: Result] = [:]
    private var spare: [RowBatch] = []
    private var written = 0
    private var stopped = false
    private var running = 0
    private let window: Int

    init(entity: EntityConfig, schema: EntitySchema, input: InputBytes, blocks: [Converter.Block], threads: Int) {
        self.entity = entity
        self.schema = schema
        self.input = input
        self.blocks = blocks
        self.threads = threads
        self.window = threads * 2
    }

    func start() {
        running = threads
        for _ in 0..<threads {
            let t = Thread { [self] in work() }
            t.stackSize = 8 << 20
            t.start()
        }
    }

    private func work() {
        let decoder: EntityDecoder
        do {
            decoder = try EntityDecoder(entity: entity, schema: schema)
        } catch {
            condition.lock()
            while next < blocks.count {
                ready[next] = Result(index: next, batch: nil, rejects: [], setupError: "\(error)")
                next += 1
            }
            running -= 1
            condition.broadcast()
            condition.unlock()
            return
        }
        while true {
            condition.lock()
            while !stopped && next < blocks.count && next - written >= window { condition.wait() }
            if stopped || next >= blocks.count {
                running -= 1
                condition.broadcast()
                condition.unlock()
                return
            }
            let index = next
            next += 1
            var batch = spare.popLast() ?? decoder.makeBatch()
            condition.unlock()

            let block = blocks[index]
            let bytes = UnsafeRawBufferPointer(rebasing: input.bytes[block.start..<block.end])
            let errors = decoder.decodeLines(bytes, firstLine: block.firstLine, into: &batch)
            let result = Result(index: index, batch: batch, rejects: errors.map { RejectedLine(line: $0.line, error: $0.error) })

            condition.lock()
            ready[index] = result
            condition.broadcast()
            condition.unlock()
        }
    }

    /// Waits for block `index` (blocks are taken in order).
    func take(_ index: Int) -> Result {
        condition.lock()
        defer { condition.unlock() }
        while ready[index] == nil { condition.wait() }
        return ready.removeValue(forKey: index)!
    }

    /// Returns a written block's batch for reuse and lets the decoders run further ahead.
    func recycle(_ result: inout Result) {
        // Taking the batch out of the result leaves it uniquely referenced, so clearing it keeps the buffers.
        var batch = result.batch
        result.batch = nil
        batch?.removeAll()
        condition.lock()
        if let batch { spare.append(batch) }
        written = result.index + 1
        condition.broadcast()
        condition.unlock()
    }

    func finish() {
        condition.lock()
        stopped = true
        condition.broadcast()
        while running > 0 { condition.wait() }
        condition.unlock()
    }
}

/// The progress line of `convert` on a terminal: `converting: 45% (120 of 268 MiB), 1234567 rows,
/// 180 MiB/s`, redrawn at most every half second and only for inputs of at least `minimumBytes`;
/// ended by a newline. Used from the converting thread only.
public final class ConvertProgress: @unchecked Sendable {
    let minimumBytes: Int
    let draw: @Sendable (String) -> Void
    private let started = DispatchTime.now()
    private var lastDraw: UInt64 = 0
    private var drew = false

    public init(minimumBytes: Int, draw: @escaping @Sendable (String) -> Void) {
        self.minimumBytes = minimumBytes
        self.draw = draw
    }

    func update(bytes: Int, of total: Int, rows: Int) {
        guard total >= minimumBytes else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        guard now - lastDraw >= 500_000_000 || bytes == total else { return }
        lastDraw = now
        drew = true
        let mib = 1024.0 * 1024.0
        let seconds = max(Double(now - started.uptimeNanoseconds) / 1e9, 1e-6)
        draw(String(format: "converting: %3d%% (%.0f of %.0f MiB), %d rows, %.0f MiB/s   ", Int(Double(bytes) * 100 / Double(max(total, 1))),
                    Double(bytes) / mib, Double(total) / mib, rows, Double(bytes) / mib / seconds))
    }

    func finish() {
        if drew { draw("\n") }
    }
}
