using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PaliGemma2.DocPipeline.Contracts;

namespace PaliGemma2.DocPipeline.Pipeline.Intake;

/// <summary>
/// Queue intake: another system sends <see cref="SubmitDocument"/> naming a file on the shared volume.
/// The file is copied (not moved: it belongs to the sender) and goes through the same intake as any other.
/// </summary>
public sealed class SubmitDocumentConsumer(DocumentIntake intake, IOptions<IntakeOptions> options, ILogger<SubmitDocumentConsumer> logger)
    : IConsumer<SubmitDocument>
{
    /// <inheritdoc />
    public async Task Consume(ConsumeContext<SubmitDocument> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var message = context.Message;
        var root = options.Value.SharedRoot;
        if (string.IsNullOrEmpty(root) || !TaskNames.IsKnown(message.Task))
        {
            logger.LogWarning("SubmitDocument {ExternalId} refused: {Reason}", message.ExternalId,
                string.IsNullOrEmpty(root) ? "Intake:SharedRoot is not configured" : "unknown task");
            return;
        }

        // The path comes from another system: resolve it and refuse anything outside the shared root.
        var fullRoot = Path.GetFullPath(root) + Path.DirectorySeparatorChar;
        var path = Path.GetFullPath(Path.Combine(fullRoot, message.Path));
        if (!path.StartsWith(fullRoot, StringComparison.Ordinal) || !File.Exists(path))
        {
            logger.LogWarning("SubmitDocument {ExternalId} refused: path outside the shared root or missing", message.ExternalId);
            return;
        }

        var result = await intake.IngestFileAsync(path, move: false, message.Task, Sources.Queue, message.FileName, context.CancellationToken).ConfigureAwait(false);
        logger.LogInformation("SubmitDocument {ExternalId} is document {DocumentId} (new: {Created})", message.ExternalId, result.DocumentId, result.Created);
    }
}
