using System.Security.Cryptography;
using PaliGemma2.DocPipeline.Storage.Blobs;
using PaliGemma2.DocPipeline.Tests.Shared;

namespace PaliGemma2.DocPipeline.Storage.Tests;

public sealed class FileSystemBlobStoreTests : IDisposable
{
    private readonly string _root = TestServices.NewTempDirectory("blobs");
    private readonly FileSystemBlobStore _store;

    public FileSystemBlobStoreTests() => _store = new FileSystemBlobStore(_root);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task Key_is_the_lower_case_hex_sha256_of_the_content()
    {
        var bytes = RandomBytes(100_000);

        var blob = await _store.PutAsync(new MemoryStream(bytes));

        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), blob.Key);
        Assert.Equal(bytes.Length, blob.Size);
        Assert.True(_store.Exists(blob.Key));
        Assert.Equal(bytes, await ReadAsync(blob.Key));
        Assert.Equal(bytes, await File.ReadAllBytesAsync(_store.GetPath(blob.Key)));
    }

    [Fact]
    public async Task Blob_path_stays_under_the_root()
    {
        var blob = await _store.PutAsync(new MemoryStream("x"u8.ToArray()));
        var path = _store.GetPath(blob.Key);
        Assert.StartsWith(Path.GetFullPath(_root) + Path.DirectorySeparatorChar, path, StringComparison.Ordinal);
        Assert.Equal(blob.Key, Path.GetFileName(path));
    }

    [Fact]
    public async Task Empty_content_is_stored_under_the_sha256_of_nothing()
    {
        var blob = await _store.PutAsync(new MemoryStream());
        Assert.Equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", blob.Key);
        Assert.Equal(0, blob.Size);
        Assert.True(_store.Exists(blob.Key));
    }

    [Fact]
    public async Task Same_bytes_twice_are_stored_once()
    {
        var bytes = RandomBytes(10_000);

        var first = await _store.PutAsync(new MemoryStream(bytes));
        var second = await _store.PutAsync(new MemoryStream(bytes));

        Assert.Equal(first, second);
        Assert.Equal([_store.GetPath(first.Key)], BlobFiles());
        Assert.Empty(TempFiles());
    }

    [Fact]
    public async Task Different_bytes_get_different_keys()
    {
        var a = await _store.PutAsync(new MemoryStream("a"u8.ToArray()));
        var b = await _store.PutAsync(new MemoryStream("b"u8.ToArray()));
        Assert.NotEqual(a.Key, b.Key);
        Assert.Equal(2, BlobFiles().Count);
    }

    [Fact]
    public async Task Blob_is_not_visible_under_its_key_until_fully_written()
    {
        var bytes = RandomBytes(256 * 1024);
        var key = Convert.ToHexStringLower(SHA256.HashData(bytes));
        await using var slow = new GatedStream(bytes, gateAfter: bytes.Length / 2);

        var put = _store.PutAsync(slow);
        await slow.HalfWayRead.WaitAsync(TimeSpan.FromSeconds(30));

        // Half of the bytes are written somewhere, but nothing is visible under the key or anywhere outside tmp/.
        Assert.False(_store.Exists(key));
        Assert.False(File.Exists(_store.GetPath(key)));
        Assert.Empty(BlobFiles());
        Assert.Single(TempFiles());

        slow.Release();
        var blob = await put.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(key, blob.Key);
        Assert.Equal(bytes, await ReadAsync(key));
        Assert.Empty(TempFiles());
    }

    [Fact]
    public async Task Failed_write_leaves_no_blob_and_no_temp_file()
    {
        var bytes = RandomBytes(256 * 1024);
        var key = Convert.ToHexStringLower(SHA256.HashData(bytes));
        await using var broken = new GatedStream(bytes, gateAfter: bytes.Length / 2, failAtGate: true);

        await Assert.ThrowsAsync<IOException>(() => _store.PutAsync(broken));

        Assert.False(_store.Exists(key));
        Assert.Empty(BlobFiles());
        Assert.Empty(TempFiles());
    }

    [Fact]
    public async Task Cancelled_write_leaves_no_blob_and_no_temp_file()
    {
        var bytes = RandomBytes(256 * 1024);
        await using var slow = new GatedStream(bytes, gateAfter: bytes.Length / 2);
        using var cts = new CancellationTokenSource();

        var put = _store.PutAsync(slow, cts.Token);
        await slow.HalfWayRead.WaitAsync(TimeSpan.FromSeconds(30));
        await cts.CancelAsync();
        slow.Release();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => put);
        Assert.Empty(BlobFiles());
        Assert.Empty(TempFiles());
    }

    [Fact]
    public async Task Concurrent_puts_of_the_same_bytes_store_one_blob_under_one_key()
    {
        var bytes = RandomBytes(2 * 1024 * 1024);
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var puts = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            await start.Task;
            return await _store.PutAsync(new MemoryStream(bytes));
        })).ToList();

        start.SetResult();
        var results = await Task.WhenAll(puts);

        Assert.Single(results.Select(r => r.Key).Distinct());
        Assert.All(results, r => Assert.Equal(bytes.Length, r.Size));
        Assert.Equal([_store.GetPath(results[0].Key)], BlobFiles());
        Assert.Empty(TempFiles());
        Assert.Equal(bytes, await ReadAsync(results[0].Key));
    }

    [Fact]
    public async Task MoveFileAsync_stores_the_file_and_removes_the_source()
    {
        var bytes = RandomBytes(50_000);
        var source = Path.Combine(_root, "..", Path.GetFileName(_root) + "-inbox.pdf");
        await File.WriteAllBytesAsync(source, bytes);
        try
        {
            var blob = await _store.MoveFileAsync(source);

            Assert.False(File.Exists(source), "the source must be gone after the move");
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), blob.Key);
            Assert.Equal(bytes.Length, blob.Size);
            Assert.Equal(bytes, await ReadAsync(blob.Key));
            Assert.Empty(TempFiles());
        }
        finally
        {
            File.Delete(source);
        }
    }

    [Fact]
    public async Task MoveFileAsync_of_bytes_already_stored_removes_the_source_and_keeps_one_blob()
    {
        var bytes = RandomBytes(50_000);
        var existing = await _store.PutAsync(new MemoryStream(bytes));
        var source = Path.Combine(TestServices.NewTempDirectory("inbox"), "again.pdf");
        await File.WriteAllBytesAsync(source, bytes);
        try
        {
            var blob = await _store.MoveFileAsync(source);

            Assert.False(File.Exists(source));
            Assert.Equal(existing, blob);
            Assert.Equal([_store.GetPath(blob.Key)], BlobFiles());
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(source)!, recursive: true);
        }
    }

    [Theory]
    [InlineData("../../etc/passwd")]
    [InlineData("..")]
    [InlineData("")]
    [InlineData("9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08")]
    [InlineData("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0")]
    [InlineData("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a088")]
    [InlineData("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0g")]
    [InlineData("../../../../../../../../../../../../../../../../../../../../etc/x")]
    [InlineData("/etc/passwd/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c")]
    public void Key_that_is_not_64_lower_case_hex_is_refused(string key)
    {
        // Exactly ArgumentException from the key check, not an accident of slicing a short string.
        Assert.Equal("key", Assert.Throws<ArgumentException>(() => _store.GetPath(key)).ParamName);
        Assert.Throws<ArgumentException>(() => _store.Exists(key));
        Assert.Throws<ArgumentException>(() => _store.OpenRead(key).Dispose());
    }

    [Fact]
    public void Null_key_is_refused()
    {
        Assert.Throws<ArgumentException>(() => _store.GetPath(null!));
    }

    [Fact]
    public void Unknown_key_does_not_exist_and_cannot_be_opened()
    {
        var key = new string('0', 64);
        Assert.False(_store.Exists(key));
        Assert.ThrowsAny<IOException>(() => _store.OpenRead(key).Dispose());
    }

    [Fact]
    public async Task Store_over_an_existing_root_sees_its_blobs()
    {
        var blob = await _store.PutAsync(new MemoryStream("kept"u8.ToArray()));
        var reopened = new FileSystemBlobStore(_root);
        Assert.True(reopened.Exists(blob.Key));
    }

    private static byte[] RandomBytes(int length)
    {
        var bytes = new byte[length];
        Random.Shared.NextBytes(bytes);
        return bytes;
    }

    private async Task<byte[]> ReadAsync(string key)
    {
        await using var s = _store.OpenRead(key);
        using var ms = new MemoryStream();
        await s.CopyToAsync(ms);
        return ms.ToArray();
    }

    /// <summary>Files that look like stored blobs: everything under the root except the temp folder.</summary>
    private List<string> BlobFiles()
    {
        var tmp = Path.Combine(Path.GetFullPath(_root), "tmp") + Path.DirectorySeparatorChar;
        return Directory.EnumerateFiles(_root, "*", SearchOption.AllDirectories)
            .Select(Path.GetFullPath)
            .Where(f => !f.StartsWith(tmp, StringComparison.Ordinal))
            .ToList();
    }

    private string[] TempFiles() => Directory.GetFiles(Path.Combine(_root, "tmp"));

    /// <summary>Serves bytes, then stops half-way until released (or fails there), like a slow upload.</summary>
    private sealed class GatedStream(byte[] data, int gateAfter, bool failAtGate = false) : Stream
    {
        private readonly TaskCompletionSource _halfWay = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _position;

        public Task HalfWayRead => _halfWay.Task;

        public void Release() => _release.TrySetResult();

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_position == gateAfter)
            {
                if (failAtGate)
                {
                    throw new IOException("connection reset by peer");
                }

                _halfWay.TrySetResult();
                await _release.Task.WaitAsync(cancellationToken);
            }

            var limit = _position < gateAfter ? gateAfter : data.Length;
            var n = Math.Min(buffer.Length, limit - _position);
            data.AsMemory(_position, n).CopyTo(buffer);
            _position += n;
            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("async only");
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
