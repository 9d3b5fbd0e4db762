using System.CommandLine;
using PaliGemma2.DocPipeline.Cli.Commands;

var root = new RootCommand("docpipe: PDFs and DICOM radiographs to structured data with PaliGemma 2 checkpoints")
{
    ProcessCommand.Create(),
    StatusCommand.Create(),
    SqlCommand.Create(),
    ModelsCommand.Create(),
    BenchPrepareCommand.Create(),
    EvalCommand.Create(),
    ReplayCommand.Create(),
    ExportGoldCommand.Create(),
};
return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
