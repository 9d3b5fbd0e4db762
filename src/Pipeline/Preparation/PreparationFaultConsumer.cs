using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using PaliGemma2.DocPipeline.Contracts;
using PaliGemma2.DocPipeline.Documents;
using PaliGemma2.DocPipeline.Storage;
using PaliGemma2.DocPipeline.Storage.Entities;

namespace PaliGemma2.DocPipeline.Pipeline.Preparation;

/// <summary>
/// When preparation throws past its retries (a renderer or library bug on odd input), the document
/// still ends with a stored reason instead of waiting forever.
/// </summary>
public sealed class PreparationFaultConsumer(DocPipelineDbContext db, ILogger<PreparationFaultConsumer> logger) : IConsumer<Fault<DocumentReceived>>
{
    /// <inheritdoc />
    public async Task Consume(ConsumeContext<Fault<DocumentReceived>> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var id = context.Message.Message.DocumentId;
        var document = await db.Documents.FirstOrDefaultAsync(d => d.Id == id, context.CancellationToken).ConfigureAwait(false);
        if (document is null || document.Status is DocumentStatus.Queued or DocumentStatus.Done or DocumentStatus.Failed)
        {
            return;
        }

        var error = context.Message.Exceptions.FirstOrDefault();
        document.Status = DocumentStatus.Failed;
        // Exception texts are for the log; the stored reason is plain words from the reasons table.
        document.Error = "Preparation failed after retries (an internal error, not a problem with the file as far as we know).";
        document.ReasonCode = Reasons.PreparationError;
        await db.SaveChangesAsync(context.CancellationToken).ConfigureAwait(false);
        await context.Publish(new DocumentFailed { DocumentId = id, Reason = document.Error }, context.CancellationToken).ConfigureAwait(false);
        logger.LogWarning("Document {DocumentId} failed after retries: {ExceptionType}: {Message}", id, error?.ExceptionType, error?.Message);
    }
}
