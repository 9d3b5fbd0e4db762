using System.Security.Cryptography;

namespace PaliGemma2.DocPipeline.Storage.Blobs;

/// <summary>
/// Blobs as files under <c>root/ab/cd/abcd…</c>. Writes go to a temporary file in the same root and
/// are renamed into place, so a reader never sees a partial blob and a crash leaves only a temp file.
/// </summary>
public sealed class FileSystemBlobStore : IBlobStore
{
    private readonly string _root;
    private readonly string _tmp;

    /// <summary>Creates the store, creating <paramref name="root"/> if needed.</summary>
    public FileSystemBlobStore(string root)
    {
        _root = Path.GetFullPath(root);
        _tmp = Path.Combine(_root, "tmp");
        Directory.CreateDirectory(_tmp);
    }

    /// <inheritdoc />
    public async Task<BlobInfo> PutAsync(Stream content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        var temp = Path.Combine(_tmp, Guid.NewGuid().ToString("N"));
        try
        {
            string key;
            long size;
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(1 << 16);
                try
                {
                    int read;
                    while ((read = await content.ReadAsync(buffer.AsMemory(), cancellationToken).ConfigureAwait(false)) > 0)
                    {
                        hash.AppendData(buffer, 0, read);
                        await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                    }
                }
                finally
                {
                    System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
                }

                await file.FlushAsync(cancellationToken).ConfigureAwait(false);
                size = file.Length;
                key = Convert.ToHexStringLower(hash.GetHashAndReset());
            }

            Commit(temp, key);
            return new BlobInfo(key, size);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <inheritdoc />
    public async Task<BlobInfo> MoveFileAsync(string path, CancellationToken cancellationToken = default)
    {
        string key;
        long size;
        await using (var source = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true))
        {
            size = source.Length;
            key = Convert.ToHexStringLower(await SHA256.HashDataAsync(source, cancellationToken).ConfigureAwait(false));
        }

        var target = PathOf(key);
        if (File.Exists(target))
        {
            File.Delete(path);
            return new BlobInfo(key, size);
        }

        var temp = Path.Combine(_tmp, Guid.NewGuid().ToString("N"));
        try
        {
            try
            {
                File.Move(path, temp);
            }
            catch (IOException)
            {
                // Different file system: copy, then remove the original only once the copy is durable.
                File.Copy(path, temp);
                File.Delete(path);
            }

            Commit(temp, key);
        }
        finally
        {
            File.Delete(temp);
        }

        return new BlobInfo(key, size);
    }

    /// <inheritdoc />
    public Stream OpenRead(string key) =>
        new FileStream(PathOf(key), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);

    /// <inheritdoc />
    public string GetPath(string key) => PathOf(key);

    /// <inheritdoc />
    public bool Exists(string key) => File.Exists(PathOf(key));

    private void Commit(string temp, string key)
    {
        var target = PathOf(key);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        try
        {
            File.Move(temp, target, overwrite: false);
        }
        catch (IOException) when (File.Exists(target))
        {
            // Same bytes already stored by a concurrent writer: content addressing makes this a no-op.
        }
    }

    private string PathOf(string key)
    {
        // Keys come from messages and URLs: accept exactly 64 lower-case hex digits, nothing a path could hide in.
        if (key is null || key.Length != 64 || !key.AsSpan().ContainsOnlyHexLower())
        {
            throw new ArgumentException("A blob key is 64 lower-case hex digits.", nameof(key));
        }

        return Path.Combine(_root, key[..2], key[2..4], key);
    }
}

internal static class HexSpanExtensions
{
    public static bool ContainsOnlyHexLower(this ReadOnlySpan<char> s) =>
        !s.ContainsAnyExcept("0123456789abcdef");
}
