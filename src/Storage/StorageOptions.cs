namespace PaliGemma2.DocPipeline.Storage;

/// <summary>Where data lives. Bound from the <c>Storage</c> configuration section.</summary>
public sealed class StorageOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Storage";

    /// <summary><c>Postgres</c> (distributed) or <c>Sqlite</c> (embedded).</summary>
    public StorageProvider Provider { get; set; } = StorageProvider.Sqlite;

    /// <summary>Root folder of the content-addressed blob store.</summary>
    public string BlobRoot { get; set; } = ".docpipe/blobs";
}

/// <summary>Relational store flavour.</summary>
public enum StorageProvider
{
    /// <summary>Embedded mode: one SQLite file.</summary>
    Sqlite,
    /// <summary>Distributed mode: PostgreSQL.</summary>
    Postgres,
}
