/// Shared fixtures of the model, decoder, convert and worker tests.
public enum Fixtures {
    /// A complete configuration (the config tests' example).
    public static let exampleConfig = """
    redis:   {url: redis://127.0.0.1:6379/0, group: lakewriter, consumer: "${HOSTNAME:-lakewriter-1}", batch: 1000, block: 1s, claim_idle: 5m, route_field: entity}
    storage: {url: "s3://lake/events", endpoint: "http://127.0.0.1:9000", region: us-east-1, path_style: true,
              access_key_id: "${AWS_ACCESS_KEY_ID}", secret_access_key: "${AWS_SECRET_ACCESS_KEY}"}
    parquet: {compression: snappy, row_group_rows: 1048576, row_group_bytes: 48MiB, page_bytes: 1MiB}
    flush:   {max_rows: 100000, max_bytes: 128MiB, max_age: 60s, idle: 10s, memory_limit: 512MiB, shutdown_grace: 25s}
    http:    {listen: "0.0.0.0:8083"}
    entities:
      orders:
        stream: events:orders       # several entities may share a stream
        payload: json:data
        time: created_at
        unknown_fields: ignore
        columns:
          order_id: uuid not null
          amount: decimal(12,2)
          created_at: timestamp(us, utc) not null
          lines: list<struct<sku:string, qty:int32>>
          geo_lat: {type: float64, source: geo.lat}
    """

    /// The environment `exampleConfig` expands.
    public static let exampleEnvironment = ["AWS_ACCESS_KEY_ID": "AKIAEXAMPLEKEY123456", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"]

    /// One entity with `unknown_fields: evolve`.
    public static let evolvingEntityConfig = """
    entities:
      ev:
        stream: s
        payload: json:data
        unknown_fields: evolve
        columns:
          id: int64 not null
    """
}

/// The `columns:` of an entity with every type of the grammar, indented for an entity under
/// `entities:` (shared by the decoder and convert tests).
extension Fixtures {
    public static let allTypesColumns = """
    columns:
      b: bool
      i8: int8
      i16: int16
      i32: int32
      i64: int64 not null
      u8: uint8
      u16: uint16
      u32: uint32
      u64: uint64
      f32: float32
      f64: float64
      d: decimal(5,2)
      dbig: decimal(30,4)
      s: string
      bin: binary
      id: uuid
      day: date
      tod: time(us)
      ts: timestamp(us, utc)
      tsl: timestamp(ms)
      j: json
      tags: list<int32>
      items: list<struct<sku:string not null, qty:int32>>
      attrs: map<string, int64>
      lat: {type: float64, source: geo.lat}
"""
}
