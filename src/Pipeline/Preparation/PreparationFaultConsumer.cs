using MassTransit;
using Microsoft.Extensions.Logging;
using PaliGemma2.DocPipeline.Contracts;
using PaliGemma2.DocPipeline.Documents;
using PaliGemma2.DocPipeline.Pipeline.State;

namespace PaliGemma2.DocPipeline.Pipeline.Preparation;

/// <summary>
/// When preparation throws past its retries (a renderer or library bug on odd input), the document
/// still ends with a stored reason instead of waiting forever.
/// </summary>
public sealed class PreparationFaultConsumer(PipelineState state, ILogger<PreparationFaultConsumer> logger) : IConsumer<Fault<DocumentReceived>>
{
    /// <inheritdoc />
    public async Task Consume(ConsumeContext<Fault<DocumentReceived>> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var id = context.Message.Message.DocumentId;
        var error = context.Message.Exceptions.FirstOrDefault();
        // Exception texts are for the log; the stored reason is plain words from the reasons table.
        const string reason = "Preparation failed after retries (an internal error, not a problem with the file as far as we know).";
        if (!await state.FailDocumentAsync(id, Reasons.PreparationError, reason, context, context.CancellationToken).ConfigureAwait(false))
        {
            return;
        }

        logger.LogWarning("Document {DocumentId} failed after retries: {ExceptionType}: {Message}", id, error?.ExceptionType, error?.Message);
    }
}
