using System.Diagnostics;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using PaliGemma2.DocPipeline.Contracts;
using PaliGemma2.DocPipeline.Storage.Entities;
using PaliGemma2.DocPipeline.Tests.Shared;

namespace PaliGemma2.DocPipeline.Pipeline.Tests;

/// <summary>DICOM through the drop folder on real RabbitMQ and PostgreSQL: radiographs end on infer-report.</summary>
public sealed class DicomIntakeTests : IAsyncLifetime
{
    private PipelineHost _host = null!;

    public async Task InitializeAsync() => _host = await PipelineHost.StartDistributedAsync("dicom");

    public async Task DisposeAsync() => await _host.DisposeAsync();

    /// <summary>A real MR file relabelled as a DX radiograph by dcmtk's dcmodify.</summary>
    internal static string MakeRadiograph(string folder)
    {
        var path = Path.Combine(folder, "dx.dcm");
        File.Copy(TestServices.CorpusFile("dicom", "MR_small.dcm"), path);
        var psi = new ProcessStartInfo("dcmodify") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "-nb", "-i", "(0008,0060)=DX", "-i", "(0018,5101)=PA", "-i", "(0018,0015)=CHEST", path })
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        return path;
    }

    [Fact]
    public async Task A_dropped_radiograph_with_task_auto_becomes_a_page_on_infer_report()
    {
        _host.Drop(MakeRadiograph(_host.Root), TaskNames.Auto, "chest.dcm");
        _host.Drop(TestServices.CorpusFile("dicom", "rtplan.dcm"), TaskNames.Auto);
        _host.Drop(TestServices.CorpusFile("dicom", "CT_small.dcm"), TaskNames.Auto);
        _host.Drop(TestServices.CorpusFile("dicom", "MR_truncated.dcm"), TaskNames.Report);
        // GDCM fails a C++ assertion on this file's Number of Frames and aborts whichever process decodes it.
        _host.Drop(TestServices.CorpusFile("dicom", "rtdose_1frame.dcm"), TaskNames.Report);

        List<Document> docs = [];
        Assert.True(await TestServices.EventuallyAsync(async () =>
        {
            docs = await _host.WithDbAsync(db => db.Documents.AsNoTracking().Include(d => d.Pages).ThenInclude(p => p.Jobs).ToListAsync());
            return docs.Count == 5 && docs.All(d => d.Status is DocumentStatus.Queued or DocumentStatus.Failed);
        }, TimeSpan.FromSeconds(60)), string.Join(", ", docs.Select(d => $"{d.FileName}={d.Status}")));

        var chest = docs.Single(d => d.FileName == "chest.dcm");
        Assert.Equal(DocumentStatus.Queued, chest.Status);
        Assert.Equal("application/dicom", chest.MediaType);
        var page = Assert.Single(chest.Pages);
        Assert.Equal((896, 896), (page.Width, page.Height));
        Assert.Equal(TaskNames.Report, Assert.Single(page.Jobs).Task);
        using (var meta = JsonDocument.Parse(chest.Metadata!))
        {
            Assert.Equal("DX", meta.RootElement.GetProperty("modality").GetString());
            Assert.False(string.IsNullOrEmpty(meta.RootElement.GetProperty("studyInstanceUid").GetString()));
            Assert.DoesNotContain("patient", chest.Metadata!, StringComparison.OrdinalIgnoreCase);
        }

        var messages = await BrokerQueue.DrainAsync(_host.RabbitUri!, "infer-report");
        var message = Assert.Single(messages);
        Assert.Equal(chest.Id, message.GetProperty("documentId").GetGuid());
        Assert.Equal(page.ImageBlobKey, message.GetProperty("imageBlobKey").GetString());
        Assert.Equal(TaskNames.Report, message.GetProperty("task").GetString());

        var rt = docs.Single(d => d.FileName == "rtplan.dcm");
        Assert.Equal(DocumentStatus.Failed, rt.Status);
        Assert.Contains("pixel data", rt.Error, StringComparison.OrdinalIgnoreCase);
        var ct = docs.Single(d => d.FileName == "CT_small.dcm");
        Assert.Equal(DocumentStatus.Failed, ct.Status);
        Assert.Contains("CT", ct.Error, StringComparison.Ordinal);
        var truncated = docs.Single(d => d.FileName == "MR_truncated.dcm");
        Assert.Equal(DocumentStatus.Failed, truncated.Status);
        Assert.False(string.IsNullOrWhiteSpace(truncated.Error));
        var aborted = docs.Single(d => d.FileName == "rtdose_1frame.dcm");
        Assert.Equal(DocumentStatus.Failed, aborted.Status);
        Assert.Equal("decoder_crashed", aborted.ReasonCode);
        Assert.Contains("SIGABRT", aborted.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_same_instance_in_another_transfer_syntax_is_one_document()
    {
        var explicitLe = TestServices.CorpusFile("dicom", "MR_small.dcm");
        var rle = Path.Combine(_host.Root, "mr-rle.dcm");
        var psi = new ProcessStartInfo("dcmcrle") { RedirectStandardError = true, RedirectStandardOutput = true };
        psi.ArgumentList.Add(explicitLe);
        psi.ArgumentList.Add(rle);
        using (var p = Process.Start(psi)!)
        {
            p.WaitForExit();
            Assert.Equal(0, p.ExitCode);
        }

        Assert.NotEqual(await File.ReadAllBytesAsync(explicitLe), await File.ReadAllBytesAsync(rle));
        var first = await _host.IngestAsync(explicitLe, TaskNames.Report);
        var second = await _host.IngestAsync(rle, TaskNames.Report);
        Assert.True(first.Created);
        Assert.False(second.Created);
        Assert.Equal(first.DocumentId, second.DocumentId);
        var doc = await _host.WithDbAsync(db => db.Documents.AsNoTracking().SingleAsync());
        Assert.False(string.IsNullOrEmpty(doc.SopInstanceUid));
    }
}
