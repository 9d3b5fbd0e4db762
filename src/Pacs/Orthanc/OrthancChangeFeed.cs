using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PaliGemma2.DocPipeline.Pipeline.Intake;
using PaliGemma2.DocPipeline.Storage;
using PaliGemma2.DocPipeline.Storage.Entities;

namespace PaliGemma2.DocPipeline.Pacs.Orthanc;

/// <summary>
/// Follows Orthanc's <c>/changes</c> feed and hands each accepted instance to <see cref="DocumentIntake"/>
/// (source <c>pacs</c>). The sequence number of the last change fully handled is kept in
/// <c>intake_cursors</c> after every change; an instance handled again after a crash is deduplicated by
/// intake on (SOP Instance UID, task), so a restart neither misses nor repeats an instance.
/// What DocPipeline itself wrote (its draft report SRs, which write-back may store in this very Orthanc)
/// is never ingested: no feedback loop.
/// </summary>
public sealed partial class OrthancChangeFeed(
    IServiceScopeFactory scopes, IHttpClientFactory httpFactory, IOptions<OrthancIntakeOptions> options, IOptions<WriteBackOptions> writeBack,
    TimeProvider time, ILogger<OrthancChangeFeed> logger)
    : BackgroundService
{
    /// <summary>Named HTTP client.</summary>
    public const string HttpClientName = "orthanc-intake";

    /// <summary>SOP Class UID prefix of every SR storage class (PS3.4 B.5).</summary>
    private const string SrSopClassPrefix = "1.2.840.10008.5.1.4.1.1.88.";

    private readonly OrthancIntakeOptions _options = options.Value;
    private readonly string _ownManufacturer = writeBack.Value.Manufacturer;

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var url = _options.OrthancUrl ?? throw new InvalidOperationException("Pacs:Intake:OrthancUrl is required when Pacs:Intake:Enabled is true.");
        var client = new OrthancClient(httpFactory.CreateClient(HttpClientName), url, _options.Username, _options.Password);
        var cursorName = "orthanc:" + client.Root;
        LogStarting(logger, client.Root, _options.Trigger);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var drained = await PollOnceAsync(client, cursorName, stoppingToken).ConfigureAwait(false);
                if (drained)
                {
                    await Task.Delay(_options.PollInterval, time, stoppingToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is HttpRequestException or DbUpdateException or JsonException or IOException or InvalidOperationException or TaskCanceledException)
            {
                // Orthanc or the database away: the cursor has not moved past anything unhandled; try again.
                LogPollFailed(logger, ex.GetType().Name, ex.Message);
                await Task.Delay(TimeSpan.FromSeconds(5), time, stoppingToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Reads and handles one page of changes; true when the feed is drained.</summary>
    internal async Task<bool> PollOnceAsync(OrthancClient client, string cursorName, CancellationToken ct)
    {
        var stored = await ReadCursorAsync(cursorName, ct).ConfigureAwait(false);
        if (stored is null && _options.StartFrom == OrthancStartFrom.Now)
        {
            // First run with StartFrom = Now: remember the feed's end; what Orthanc already holds is not ingested.
            await WriteCursorAsync(cursorName, await client.GetLastChangeAsync(ct).ConfigureAwait(false), ct).ConfigureAwait(false);
            return false;
        }

        var position = stored ?? 0;
        var page = await client.GetChangesAsync(position, Math.Clamp(_options.BatchSize, 1, 1000), ct).ConfigureAwait(false);
        if (page.Last < position)
        {
            // Orthanc's database was replaced (its sequence restarted): read it again from the start;
            // intake's (SOP Instance UID, task) dedupe keeps instances already ingested from repeating.
            LogFeedRestarted(logger, position, page.Last);
            await WriteCursorAsync(cursorName, 0, ct).ConfigureAwait(false);
            return false;
        }

        foreach (var change in page.Changes.OrderBy(c => c.Seq))
        {
            if (change.Seq <= position)
            {
                continue;
            }

            var wanted = _options.Trigger == OrthancTrigger.NewInstance ? "NewInstance" : "StableSeries";
            if (string.Equals(change.ChangeType, wanted, StringComparison.Ordinal))
            {
                var instances = _options.Trigger == OrthancTrigger.NewInstance
                    ? [change.Id]
                    : await SeriesInstancesAsync(client, change.Id, ct).ConfigureAwait(false);
                foreach (var instance in instances)
                {
                    await HandleInstanceAsync(client, instance, ct).ConfigureAwait(false);
                }
            }
            else if (string.Equals(change.ChangeType, "StableSeries", StringComparison.Ordinal))
            {
                LogSeriesStable(logger, change.Id);
            }

            position = change.Seq;
            await WriteCursorAsync(cursorName, position, ct).ConfigureAwait(false);
        }

        if (page.Changes.Count == 0 && page.Last > position)
        {
            // Nothing of interest in the skipped range (Orthanc reports Last even when it returns no changes).
            position = page.Last;
            await WriteCursorAsync(cursorName, position, ct).ConfigureAwait(false);
        }

        return page.Done;
    }

    private static async Task<IReadOnlyList<string>> SeriesInstancesAsync(OrthancClient client, string seriesId, CancellationToken ct)
    {
        try
        {
            return await client.GetSeriesInstancesAsync(seriesId, ct).ConfigureAwait(false);
        }
        catch (HttpRequestException ex) when (ex.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            // Deleted since it became stable: nothing left to ingest.
            return [];
        }
    }

    private async Task HandleInstanceAsync(OrthancClient client, string instanceId, CancellationToken ct)
    {
        IReadOnlyDictionary<string, object> tags;
        try
        {
            tags = await client.GetSimplifiedTagsAsync(instanceId, ct).ConfigureAwait(false);
        }
        catch (HttpRequestException ex) when (ex.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            // Deleted since the change was logged (e.g. one of our SRs removed after its send): nothing to ingest.
            LogFiltered(logger, instanceId, "no longer in Orthanc");
            return;
        }

        if (!Accepts(tags, out var reason))
        {
            LogFiltered(logger, instanceId, reason);
            return;
        }

        var sopInstanceUid = Get(tags, "SOPInstanceUID");
        if (await IsOwnSrAsync(Get(tags, "SeriesInstanceUID"), sopInstanceUid, ct).ConfigureAwait(false))
        {
            LogFiltered(logger, instanceId, "a draft report SR DocPipeline sent");
            return;
        }

        var temp = Path.Combine(Path.GetTempPath(), $"docpipe-orthanc-{Guid.NewGuid():N}.dcm");
        try
        {
            var file = new FileStream(temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 81920, FileOptions.DeleteOnClose);
            await using (file.ConfigureAwait(false))
            {
                await client.DownloadInstanceAsync(instanceId, file, ct).ConfigureAwait(false);
                file.Position = 0;
                await using var scope = scopes.CreateAsyncScope();
                var intake = scope.ServiceProvider.GetRequiredService<DocumentIntake>();
                // Same file name as a STOW-RS document: the SOP Instance UID; Orthanc's id goes into the metadata.
                var name = (sopInstanceUid.Length > 0 ? sopInstanceUid : instanceId) + ".dcm";
                var origin = new Dictionary<string, string> { [PacsMetadata.OrthancInstanceId] = instanceId };
                var result = await intake.IngestAsync(file, name, _options.Task, Sources.Pacs, ct, origin).ConfigureAwait(false);
                LogIngested(logger, instanceId, result.DocumentId, result.Created);
            }
        }
        finally
        {
            File.Delete(temp);
        }
    }

    private static string Get(IReadOnlyDictionary<string, object> tags, string key) =>
        tags.TryGetValue(key, out var v) ? (v?.ToString() ?? "").Trim() : "";

    /// <summary>
    /// Refuses DocPipeline's own SRs, then applies the modality (default CR, DX), body part and SOP class
    /// filters to Orthanc's simplified tags.
    /// </summary>
    internal bool Accepts(IReadOnlyDictionary<string, object> tags, out string reason)
    {
        var modality = Get(tags, "Modality");
        var bodyPart = Get(tags, "BodyPartExamined");
        var sopClass = Get(tags, "SOPClassUID");
        if (sopClass.StartsWith(SrSopClassPrefix, StringComparison.Ordinal) && ContributedByUs(tags))
        {
            reason = "a draft report SR DocPipeline wrote (its Contributing Equipment)";
            return false;
        }

        var modalities = _options.Modalities.Count == 0 ? OrthancIntakeOptions.DefaultModalities : _options.Modalities.ToList();
        var all = modalities.Count == 1 && modalities[0].Trim() == "*";
        if (!all && !modalities.Contains(modality, StringComparer.OrdinalIgnoreCase))
        {
            reason = $"modality '{modality}' not in the filter";
            return false;
        }

        if (_options.BodyParts.Count > 0 && !_options.BodyParts.Contains(bodyPart, StringComparer.OrdinalIgnoreCase))
        {
            reason = $"body part '{bodyPart}' not in the filter";
            return false;
        }

        if (_options.SopClasses.Count > 0 && !_options.SopClasses.Contains(sopClass, StringComparer.Ordinal))
        {
            reason = $"SOP class '{sopClass}' not in the filter";
            return false;
        }

        reason = "";
        return true;
    }

    // Our SRs name this manufacturer in the Contributing Equipment Sequence (and the General Equipment module).
    private bool ContributedByUs(IReadOnlyDictionary<string, object> tags)
    {
        if (string.Equals(Get(tags, "Manufacturer"), _ownManufacturer, StringComparison.Ordinal))
        {
            return true;
        }

        if (!tags.TryGetValue("ContributingEquipmentSequence", out var sequence) || sequence is not JsonElement { ValueKind: JsonValueKind.Array } items)
        {
            return false;
        }

        return items.EnumerateArray().Any(item => item.ValueKind == JsonValueKind.Object
            && item.TryGetProperty("Manufacturer", out var m) && m.ValueKind == JsonValueKind.String
            && string.Equals(m.GetString()?.Trim(), _ownManufacturer, StringComparison.Ordinal));
    }

    // The SR series and instances write-back created, whatever manufacturer they carried when sent.
    private async Task<bool> IsOwnSrAsync(string seriesInstanceUid, string sopInstanceUid, CancellationToken ct)
    {
        if (seriesInstanceUid.Length == 0 && sopInstanceUid.Length == 0)
        {
            return false;
        }

        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<DocPipelineDbContext>();
        return await db.ReportDeliveries.AsNoTracking()
            .AnyAsync(d => d.SrSeriesInstanceUid == seriesInstanceUid || d.SrSopInstanceUid == sopInstanceUid, ct).ConfigureAwait(false);
    }

    private async Task<long?> ReadCursorAsync(string name, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<DocPipelineDbContext>();
        return await db.IntakeCursors.AsNoTracking().Where(c => c.Name == name).Select(c => (long?)c.Position)
            .FirstOrDefaultAsync(ct).ConfigureAwait(false);
    }

    private async Task WriteCursorAsync(string name, long position, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<DocPipelineDbContext>();
        var cursor = await db.IntakeCursors.FirstOrDefaultAsync(c => c.Name == name, ct).ConfigureAwait(false);
        if (cursor is null)
        {
            db.IntakeCursors.Add(new IntakeCursor { Name = name, Position = position, UpdatedAt = time.GetUtcNow() });
        }
        else
        {
            cursor.Position = position;
            cursor.UpdatedAt = time.GetUtcNow();
        }

        await db.SaveChangesAsync(ct).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Following Orthanc changes at {Root} (trigger {Trigger})")]
    private static partial void LogStarting(ILogger logger, Uri root, OrthancTrigger trigger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Orthanc change feed poll failed ({Kind}): {Message}; retrying")]
    private static partial void LogPollFailed(ILogger logger, string kind, string message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Orthanc's change sequence went back from {Position} to {Last}: reading its feed again from the start")]
    private static partial void LogFeedRestarted(ILogger logger, long position, long last);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Orthanc series {SeriesId} is stable")]
    private static partial void LogSeriesStable(ILogger logger, string seriesId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Orthanc instance {InstanceId} skipped: {Reason}")]
    private static partial void LogFiltered(ILogger logger, string instanceId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Orthanc instance {InstanceId} ingested as document {DocumentId} (new: {Created})")]
    private static partial void LogIngested(ILogger logger, string instanceId, Guid documentId, bool created);
}
