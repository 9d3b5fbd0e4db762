using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PaliGemma2.DocPipeline.Contracts;
using PaliGemma2.DocPipeline.Documents;
using PaliGemma2.DocPipeline.Pacs.Sr;
using PaliGemma2.DocPipeline.Storage;
using PaliGemma2.DocPipeline.Storage.Blobs;
using PaliGemma2.DocPipeline.Storage.Entities;

namespace PaliGemma2.DocPipeline.Pacs.WriteBack;

/// <summary>
/// On <see cref="ResultStored"/> for a report whose document is DICOM: builds the draft report SR and
/// sends it to the configured destination, recorded in <c>report_deliveries</c> (one row per result and
/// destination; the SR's UIDs are fixed at the first attempt so a retry resends the same instance).
/// A failed send is recorded and retried with backoff; after the budget it stays <c>failed</c>.
/// </summary>
public sealed partial class ReportWriteBackConsumer(
    DocPipelineDbContext db, IBlobStore blobs, SrSender sender, IOptions<WriteBackOptions> options, TimeProvider time, ILogger<ReportWriteBackConsumer> logger)
    : IConsumer<ResultStored>
{
    /// <inheritdoc />
    public async Task Consume(ConsumeContext<ResultStored> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var message = context.Message;
        var ct = context.CancellationToken;
        if (!string.Equals(message.Task, TaskNames.Report, StringComparison.Ordinal))
        {
            return;
        }

        var document = await db.Documents.AsNoTracking().FirstOrDefaultAsync(d => d.Id == message.DocumentId, ct).ConfigureAwait(false);
        var result = await db.Results.AsNoTracking().FirstOrDefaultAsync(r => r.Id == message.ResultId, ct).ConfigureAwait(false);
        if (document is null || result is null || document.MediaType != MediaTypes.Dicom)
        {
            return;
        }

        var o = options.Value;
        if (!result.Valid && !o.SendInvalidReports)
        {
            // Empty, non-text or implausible output (see results.validation_errors) is not a draft worth a radiologist's time.
            LogNotSent(logger, result.Id);
            return;
        }

        var route = await sender.RouteAsync(document.SopInstanceUid, document.Metadata, ct).ConfigureAwait(false);
        var destination = route.Destination;
        var delivery = await GetOrCreateDeliveryAsync(result.Id, destination, ct).ConfigureAwait(false);
        if (delivery.Status != DeliveryStatus.Pending)
        {
            return;
        }

        try
        {
            var text = ReportText.From(result.RawText, result.Payload);
            var sr = ReportSrWriter.Write(new ReportSrRequest
            {
                SourcePath = blobs.GetPath(document.Sha256),
                SeriesInstanceUid = delivery.SrSeriesInstanceUid,
                SopInstanceUid = delivery.SrSopInstanceUid,
                Findings = text.Findings,
                Impression = text.Impression,
                Manufacturer = o.Manufacturer,
                ModelName = result.Checkpoint,
                SoftwareVersion = result.CheckpointVersion,
                CreatedAt = delivery.CreatedAt,
            });
            await sender.SendAsync(sr, route, ct).ConfigureAwait(false);
            delivery.Attempts++;
            delivery.Status = DeliveryStatus.Sent;
            delivery.SentAt = time.GetUtcNow();
            delivery.LastError = null;
            await db.SaveChangesAsync(CancellationToken.None).ConfigureAwait(false);
            LogSent(logger, delivery.ResultId, destination, delivery.Attempts);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            delivery.Attempts++;
            delivery.LastError = ex.Message.Length > 2000 ? ex.Message[..2000] : ex.Message;
            var giveUp = delivery.Attempts >= Math.Max(1, o.MaxAttempts);
            if (giveUp)
            {
                delivery.Status = DeliveryStatus.Failed;
            }

            await db.SaveChangesAsync(CancellationToken.None).ConfigureAwait(false);
            LogFailed(logger, delivery.ResultId, destination, delivery.Attempts, giveUp, ex.GetType().Name, delivery.LastError);
            if (!giveUp)
            {
                throw;
            }
        }
    }

    private async Task<ReportDelivery> GetOrCreateDeliveryAsync(Guid resultId, string destination, CancellationToken ct)
    {
        var existing = await db.ReportDeliveries.FirstOrDefaultAsync(d => d.ResultId == resultId && d.Destination == destination, ct).ConfigureAwait(false);
        if (existing is not null)
        {
            return existing;
        }

        var delivery = new ReportDelivery
        {
            Id = Guid.CreateVersion7(),
            ResultId = resultId,
            Destination = destination,
            SrSeriesInstanceUid = ReportSrWriter.NewUid(),
            SrSopInstanceUid = ReportSrWriter.NewUid(),
            Status = DeliveryStatus.Pending,
            CreatedAt = time.GetUtcNow(),
        };
        db.ReportDeliveries.Add(delivery);
        try
        {
            await db.SaveChangesAsync(ct).ConfigureAwait(false);
            return delivery;
        }
        catch (DbUpdateException ex)
        {
            // Most likely a concurrent redelivery created it first (unique on result and destination): use theirs.
            db.Entry(delivery).State = EntityState.Detached;
            return await db.ReportDeliveries.FirstOrDefaultAsync(d => d.ResultId == resultId && d.Destination == destination, ct).ConfigureAwait(false)
                ?? throw new InvalidOperationException("Could not record the report delivery.", ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Report result {ResultId} is not valid: no SR sent (Pacs:WriteBack:SendInvalidReports is off)")]
    private static partial void LogNotSent(ILogger logger, Guid resultId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Draft report SR for result {ResultId} sent to {Destination} (attempt {Attempts})")]
    private static partial void LogSent(ILogger logger, Guid resultId, string destination, int attempts);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Draft report SR for result {ResultId} to {Destination} failed (attempt {Attempts}, giving up: {GaveUp}): {Kind}: {Reason}")]
    private static partial void LogFailed(ILogger logger, Guid resultId, string destination, int attempts, bool gaveUp, string kind, string reason);
}
