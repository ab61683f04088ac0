/// lakewriter's version, written into every file's `created_by`.
public enum LakewriterVersion {
    public static let version = "0.1.0"
}
