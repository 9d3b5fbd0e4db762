namespace PaliGemma2.DocPipeline.Api.Uploads;

/// <summary>
/// Reads a request body and refuses it (413) once more than <paramref name="limit"/> bytes arrived: a chunked
/// body has no Content-Length to check up front, and not every server (TestServer, a proxy) enforces Kestrel's limit.
/// </summary>
internal sealed class LimitedStream(Stream inner, long limit) : Stream
{
    private long _read;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => _read; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Count(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    private int Count(int read)
    {
        _read += read;
        return _read > limit
            ? throw new BadHttpRequestException($"The request body is larger than {limit} bytes.", StatusCodes.Status413PayloadTooLarge)
            : read;
    }
}

/// <summary>The one size limit (<c>Intake:MaxFileBytes</c>) as the API applies it.</summary>
internal static class UploadLimits
{
    /// <summary>Room for multipart boundaries and part headers around a file of the largest accepted size.</summary>
    public const long FramingAllowance = 1 << 20;

    /// <summary>Kestrel (30 MB) and form (128 MB) defaults would refuse large files before the API sees them.</summary>
    public static WebApplicationBuilder AddUploadLimits(this WebApplicationBuilder builder)
    {
        var max = builder.Configuration.GetSection(Pipeline.Intake.IntakeOptions.Section).GetValue<long?>(nameof(Pipeline.Intake.IntakeOptions.MaxFileBytes))
            ?? new Pipeline.Intake.IntakeOptions().MaxFileBytes;
        builder.WebHost.ConfigureKestrel(o => o.Limits.MaxRequestBodySize = max + FramingAllowance);
        // Above the body limit, so an oversize upload meets LimitedStream's 413 rather than the form reader's generic error.
        builder.Services.Configure<Microsoft.AspNetCore.Http.Features.FormOptions>(o => o.MultipartBodyLengthLimit = max + (2 * FramingAllowance));
        return builder;
    }
}
