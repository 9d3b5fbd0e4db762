using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PaliGemma2.DocPipeline.Contracts;
using PaliGemma2.DocPipeline.Documents;
using PaliGemma2.DocPipeline.Documents.Dicom;
using PaliGemma2.DocPipeline.Storage;
using PaliGemma2.DocPipeline.Storage.Blobs;
using PaliGemma2.DocPipeline.Storage.Entities;

namespace PaliGemma2.DocPipeline.Pipeline.Intake;

/// <summary>Outcome of handing a file to intake.</summary>
/// <param name="DocumentId">The new or existing document.</param>
/// <param name="Created">False when the same bytes were already ingested for the task.</param>
/// <param name="Status">The document's status now.</param>
public sealed record IntakeResult(Guid DocumentId, bool Created, DocumentStatus Status);

/// <summary>Intake paths: where a file came from.</summary>
public static class Sources
{
    /// <summary>Drop folder.</summary>
    public const string Folder = "folder";
    /// <summary>HTTP upload.</summary>
    public const string Api = "api";
    /// <summary>PACS (Orthanc, DICOMweb).</summary>
    public const string Pacs = "pacs";
    /// <summary>SubmitDocument message.</summary>
    public const string Queue = "queue";
    /// <summary>The docpipe command line.</summary>
    public const string Cli = "cli";
}

/// <summary>
/// The one way a file becomes a document: bytes into the blob store, a <c>documents</c> row unique on
/// (sha256, task), then <see cref="DocumentReceived"/>. Every intake path calls this.
/// </summary>
public sealed class DocumentIntake(
    DocPipelineDbContext db, IBlobStore blobs, IPublishEndpoint publish, TimeProvider time, IOptions<IntakeOptions> options,
    Hosting.PipelineMetrics metrics, ILogger<DocumentIntake> logger)
{
    /// <summary>
    /// Ingests a stream (HTTP upload, PACS download). <paramref name="origin"/> (e.g. the Orthanc instance id)
    /// starts the document's metadata; preparation adds what it reads from the file.
    /// </summary>
    public async Task<IntakeResult> IngestAsync(
        Stream content, string? fileName, string task, string source, CancellationToken cancellationToken, IReadOnlyDictionary<string, string>? origin = null)
    {
        EnsureTask(task);
        var blob = await blobs.PutAsync(content, cancellationToken).ConfigureAwait(false);
        return await RegisterAsync(blob, fileName, task, source, cancellationToken, origin).ConfigureAwait(false);
    }

    /// <summary>
    /// Ingests a file by moving or copying it into the blob store (drop folder, CLI, queue intake); the document
    /// keeps <paramref name="fileName"/> when the sender named the file, else the file's own name.
    /// </summary>
    public async Task<IntakeResult> IngestFileAsync(string path, bool move, string task, string source, string? fileName, CancellationToken cancellationToken)
    {
        EnsureTask(task);
        BlobInfo blob;
        if (move)
        {
            blob = await blobs.MoveFileAsync(path, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            var file = File.OpenRead(path);
            await using (file.ConfigureAwait(false))
            {
                blob = await blobs.PutAsync(file, cancellationToken).ConfigureAwait(false);
            }
        }

        return await RegisterAsync(blob, string.IsNullOrWhiteSpace(fileName) ? Path.GetFileName(path) : fileName, task, source, cancellationToken).ConfigureAwait(false);
    }

    private static void EnsureTask(string task)
    {
        if (!TaskNames.IsKnown(task))
        {
            throw new ArgumentException($"Unknown task '{task}'; expected one of {string.Join(", ", TaskNames.Inference)} or {TaskNames.Auto}.", nameof(task));
        }
    }

    private async Task<IntakeResult> RegisterAsync(
        BlobInfo blob, string? fileName, string task, string source, CancellationToken cancellationToken, IReadOnlyDictionary<string, string>? origin = null)
    {
        var existing = await FindAsync(blob.Key, task, cancellationToken).ConfigureAwait(false);
        if (existing is not null)
        {
            return existing;
        }

        string mediaType;
        await using (var stream = blobs.OpenRead(blob.Key))
        {
            var head = new byte[MediaTypes.SniffLength];
            var read = await stream.ReadAtLeastAsync(head, head.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            mediaType = MediaTypes.Sniff(head.AsSpan(0, read));
        }

        // A PACS may send the same instance again with other bytes (another transfer syntax): one document per SOP instance.
        var sopInstanceUid = mediaType == MediaTypes.Dicom ? TryReadSopInstanceUid(blobs.GetPath(blob.Key)) : null;
        if (await FindBySopAsync(sopInstanceUid, task, cancellationToken).ConfigureAwait(false) is { } sameInstance)
        {
            return sameInstance;
        }

        var document = new Document
        {
            Id = Guid.CreateVersion7(),
            Sha256 = blob.Key,
            FileName = SafeName(fileName),
            MediaType = mediaType,
            Source = source,
            Task = task,
            Status = DocumentStatus.Received,
            ReceivedAt = time.GetUtcNow(),
            SizeBytes = blob.Size,
            SopInstanceUid = sopInstanceUid,
            Metadata = origin is { Count: > 0 } ? System.Text.Json.JsonSerializer.Serialize(origin) : null,
        };
        db.Documents.Add(document);
        try
        {
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (DbUpdateException ex) when (UniqueViolation.Is(ex))
        {
            // Lost a race with a concurrent ingest of the same bytes: theirs is the document.
            db.Entry(document).State = EntityState.Detached;
            return await FindAsync(blob.Key, task, cancellationToken).ConfigureAwait(false)
                ?? await FindBySopAsync(sopInstanceUid, task, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException("Unique violation on documents but no row found.", ex);
        }

        metrics.Document("received", task);

        // MassTransit waits for a lost broker connection indefinitely; the row is committed, so recovery announces it later
        // (RepublishAfter) and the caller can answer "try again" instead of hanging.
        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            timeout.CancelAfter(options.Value.PublishTimeout);
            try
            {
                await publish.Publish(ToMessage(document), timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
            {
                logger.LogWarning("Document {DocumentId} stored but the broker did not take its event within {Timeout}; recovery re-publishes it",
                    document.Id, options.Value.PublishTimeout);
                throw new BrokerUnavailableException(document.Id, ex);
            }
        }

        logger.LogInformation("Document {DocumentId} received from {Source} for task {Task} ({MediaType}, {Size} bytes)",
            document.Id, source, task, mediaType, blob.Size);
        return new IntakeResult(document.Id, Created: true, document.Status);
    }

    /// <summary>The event for a stored document (also used to re-publish stalled ones).</summary>
    public static DocumentReceived ToMessage(Document document)
    {
        ArgumentNullException.ThrowIfNull(document);
        return new DocumentReceived
        {
            DocumentId = document.Id,
            Sha256 = document.Sha256,
            Task = document.Task,
            MediaType = document.MediaType,
            Source = document.Source,
            FileName = document.FileName,
            ReceivedAt = document.ReceivedAt,
        };
    }

    private async Task<IntakeResult?> FindAsync(string sha256, string task, CancellationToken cancellationToken)
    {
        var row = await db.Documents.AsNoTracking()
            .Where(d => d.Sha256 == sha256 && d.Task == task)
            .Select(d => new { d.Id, d.Status })
            .FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
        return row is null ? null : new IntakeResult(row.Id, Created: false, row.Status);
    }

    private async Task<IntakeResult?> FindBySopAsync(string? sopInstanceUid, string task, CancellationToken cancellationToken)
    {
        if (sopInstanceUid is null)
        {
            return null;
        }

        var row = await db.Documents.AsNoTracking()
            .Where(d => d.SopInstanceUid == sopInstanceUid && d.Task == task)
            .Select(d => new { d.Id, d.Status })
            .FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
        return row is null ? null : new IntakeResult(row.Id, Created: false, row.Status);
    }

    private static string? TryReadSopInstanceUid(string path)
    {
        // Only a bounded managed sniff: GDCM (which aborts the process on some headers) runs in the decoder sandbox.
        var uid = DicomSniffer.ReadFile(path).SopInstanceUid;
        return uid.Length == 0 ? null : uid;
    }

    private static string? SafeName(string? name)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            return null;
        }

        // Kept as data only; strip control characters so it cannot break logs or terminals.
        var clean = new string(Path.GetFileName(name).Where(c => !char.IsControl(c)).ToArray());
        return clean.Length <= 512 ? clean : clean[..512];
    }
}
