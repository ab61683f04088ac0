/// lakewriter's version, written into every file's `created_by`.
public enum LakewriterVersion {
    public static let version = "0.1.0"
    /// Build identifier in `created_by`; parquet-java parses `<app> version <semver> (build <id>)`
    /// and ignores statistics from writers it cannot parse.
    public static let build = "swift"
    public static var createdBy: String { "lakewriter version \(version) (build \(build))" }
}
