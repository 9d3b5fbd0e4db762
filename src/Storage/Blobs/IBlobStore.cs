namespace PaliGemma2.DocPipeline.Storage.Blobs;

/// <summary>
/// Content-addressed blob store: the key of a blob is the lower-case hex SHA-256 of its bytes, so
/// writing the same bytes twice stores them once and keys can be shared between processes.
/// </summary>
public interface IBlobStore
{
    /// <summary>Stores a stream's bytes, hashing as it copies; returns the key and size.</summary>
    Task<BlobInfo> PutAsync(Stream content, CancellationToken cancellationToken = default);

    /// <summary>
    /// Moves (same file system) or copies a file into the store and deletes the original; the file
    /// must not change meanwhile.
    /// </summary>
    Task<BlobInfo> MoveFileAsync(string path, CancellationToken cancellationToken = default);

    /// <summary>Opens a blob for reading.</summary>
    /// <exception cref="FileNotFoundException">No blob has that key.</exception>
    Stream OpenRead(string key);

    /// <summary>Local path of a blob, for out-of-process readers such as renderers.</summary>
    string GetPath(string key);

    /// <summary>True when the blob exists.</summary>
    bool Exists(string key);
}

/// <summary>A stored blob.</summary>
/// <param name="Key">Lower-case hex SHA-256.</param>
/// <param name="Size">Size in bytes.</param>
public sealed record BlobInfo(string Key, long Size);
